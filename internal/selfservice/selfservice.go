// Package selfservice is the public listener's surface for a user's own
// credentials: /auth/tokens lists, creates and revokes the caller's
// personal access tokens, and /auth/consents lists and withdraws what the
// caller approved for integrations (remembered consent; withdrawing one
// ends that integration's sessions). Only a credential that is the user's
// own may do so: a PAT, or a delegated (authorization-code) token that carries
// the dedicated scope gatehouse:tokens, which the user consented to in
// words (the console signs in with the user's password and has its own
// page). Every other credential, a client's, an API-key session's or an
// identity provider's, is refused. Nobody hands out more than they have:
// a PAT created here carries at most the creating credential's scopes.
package selfservice

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/consents"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/pats"
	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// Authenticator resolves a bearer token (an *authn.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, raw string) (*authn.Principal, error)
}

// Tenants finds the caller's tenant by name.
type Tenants interface {
	GetTenant(ctx context.Context, name string) (*store.Tenant, error)
}

// Handler serves /auth/tokens and /auth/consents.
type Handler struct {
	Auth     Authenticator
	PATs     *pats.Service
	Consents *consents.Service
	Tenants  Tenants
	Realm    string // the issuer, named in WWW-Authenticate
	Log      *slog.Logger
	Now      func() time.Time
}

// errNotOwn refuses a credential that may act for the user but not manage
// their credentials.
var errNotOwn = protocol.ErrInsufficientScope.WithDescription("personal access tokens and consents are managed with a personal access token, " +
	"or with a user's access token that carries the scope " + credential.ScopeTokens).WithChallenge("Bearer")

// errPATsOff refuses creating a PAT in a tenant whose users authenticate
// through its identity provider; listing and revoking still work.
var errPATsOff = &protocol.Error{Code: "pats_disabled", Status: http.StatusConflict,
	Description: "this tenant's users call the API with its identity provider's tokens (user_auth_mode oauth): personal access tokens cannot be created"}

// errNoConsent answers a withdrawal of a consent the caller never gave.
var errNoConsent = &protocol.Error{Code: "not_found", Status: http.StatusNotFound, Description: "you have not approved that application"}

// maxBody caps a creation request.
const maxBody = 16 << 10

// Mount registers the routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET /auth/tokens", h.authed(h.list))
	mux.Handle("POST /auth/tokens", h.authed(h.create))
	mux.Handle("DELETE /auth/tokens/{id}", h.authed(h.revoke))
	mux.Handle("GET /auth/consents", h.authed(h.listConsents))
	mux.Handle("DELETE /auth/consents/{client_id}", h.authed(h.revokeConsent))
}

// caller is the authenticated user, their tenant, and the most a token
// they create may carry (nil: every scope of the user's roles, for a
// caller that is an unrestricted PAT).
type caller struct {
	userID string
	tenant *store.Tenant
	reach  []string
}

func (h *Handler) authed(fn func(http.ResponseWriter, *http.Request, caller) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		c, err := h.authenticate(r)
		if err == nil {
			err = fn(w, r, c)
		}
		if err != nil {
			h.writeError(w, err)
		}
	})
}

func (h *Handler) authenticate(r *http.Request) (caller, error) {
	scheme, tok := protocol.AuthScheme(r.Header.Get("Authorization"))
	if scheme != "bearer" || tok == "" {
		// RFC 6750 §3.1: no error code when no credentials were sent.
		return caller{}, &protocol.Error{Code: "unauthorized", Status: http.StatusUnauthorized, Challenge: "Bearer",
			Description: "a bearer token of the user is required"}
	}
	p, err := h.Auth.Authenticate(r.Context(), tok)
	if err != nil {
		return caller{}, protocol.BearerError(err)
	}
	c := caller{userID: p.UserID}
	switch {
	case p.Kind == credential.PAT && p.Unbounded:
	case p.Kind == credential.PAT:
		c.reach = p.Scopes
	case p.Kind == credential.AuthorizationCode && p.HasScope(credential.ScopeTokens):
		c.reach = p.Scopes
	default:
		return caller{}, errNotOwn
	}
	if c.reach != nil {
		// A token's own scopes are not the API's: a PAT manages PATs by
		// being one.
		c.reach = slices.DeleteFunc(slices.Clone(c.reach), credential.Own)
	}
	t, err := h.Tenants.GetTenant(r.Context(), p.Tenant)
	if err != nil {
		return caller{}, err
	}
	c.tenant = t
	return c, nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, c caller) error {
	ps, err := h.PATs.List(r.Context(), c.tenant.ID, c.userID, false)
	if err != nil {
		return err
	}
	out := make([]admin.PersonalToken, len(ps))
	for i := range ps {
		out[i] = h.json(&ps[i], c.tenant.Name)
	}
	protocol.WriteJSON(w, http.StatusOK, admin.List[admin.PersonalToken]{Items: out})
	return nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, c caller) error {
	var in admin.PersonalTokenInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	exp, err := pats.ParseExpiry(in.Expiry)
	if err != nil {
		return protocol.ErrInvalidRequest.WithDescription(err.Error())
	}
	if c.tenant.Settings.OAuthMode() {
		// It would be refused everywhere: say so now, not at first use.
		return errPATsOff
	}
	scopes := c.reach
	if in.Scopes != nil {
		scopes = *in.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		for _, sc := range scopes {
			if c.reach != nil && !slices.Contains(c.reach, sc) {
				return protocol.ErrInsufficientScope.WithDescription("the token you call with does not hold the scope " +
					protocol.Clean(sc, 64) + ": a token cannot hand out more than it has")
			}
		}
	}
	made, err := h.PATs.Create(r.Context(), c.tenant.ID, c.userID, in.Name, exp, scopes, h.event(r, c, audit.PATCreate))
	if err != nil {
		return err
	}
	out := h.json(made.PAT, c.tenant.Name)
	out.Token = made.Token
	w.Header().Set("Location", "/auth/tokens/"+made.PAT.ID)
	protocol.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, c caller) error {
	id := r.PathValue("id")
	if _, err := h.PATs.Revoke(r.Context(), c.tenant.ID, c.userID, id, h.event(r, c, audit.PATRevoke)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listConsents(w http.ResponseWriter, r *http.Request, c caller) error {
	gs, err := h.Consents.List(r.Context(), c.tenant.ID, c.userID)
	if err != nil {
		return err
	}
	out := make([]admin.ConsentGrant, len(gs))
	for i, g := range gs {
		out[i] = admin.ConsentGrant{ClientID: g.ClientID, ClientName: g.ClientName, Scopes: g.Scopes, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
	}
	protocol.WriteJSON(w, http.StatusOK, admin.List[admin.ConsentGrant]{Items: out})
	return nil
}

// revokeConsent withdraws the caller's consent for a client and ends the
// client's sessions for them: its next authorization asks again.
func (h *Handler) revokeConsent(w http.ResponseWriter, r *http.Request, c caller) error {
	_, err := h.Consents.Revoke(r.Context(), c.tenant.ID, c.userID, r.PathValue("client_id"), h.event(r, c, audit.OAuthConsentRevoke))
	if errors.Is(err, store.ErrNotFound) {
		return errNoConsent
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) event(r *http.Request, c caller, action store.Action) store.Event {
	return audit.New(r.Context(), h.Now().UTC(), c.tenant.ID, "user:"+c.userID, action, "", audit.Success)
}

// json renders a token as of now (never its digest).
func (h *Handler) json(p *store.PAT, tenant string) admin.PersonalToken {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return admin.PersonalToken{ID: p.ID, Tenant: tenant, UserID: p.UserID, Name: p.Name, Prefix: p.Prefix,
		Status: p.Status(h.Now()), CreatedAt: p.CreatedAt, ExpiresAt: opt(p.ExpiresAt), RevokedAt: opt(p.RevokedAt),
		LastUsedAt: opt(p.LastUsedAt), LastUsedIP: p.LastUsedIP, Scopes: p.Scopes}
}

// decode reads a JSON body into v (see protocol.DecodeJSON).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return protocol.DecodeJSON(w, r, v, maxBody)
}

// writeError renders err: rule violations with their own status, anything
// unknown as server_error (logged, never sent).
func (h *Handler) writeError(w http.ResponseWriter, err error) {
	c := problem.Classify(err)
	c.Logf(h.Log, "self-service")
	if c.Challenge != "" {
		w.Header().Set("WWW-Authenticate", protocol.Challenge(c.Challenge, h.Realm, &protocol.Error{Code: c.Code, Description: c.Description}))
	}
	protocol.SetRetryAfter(w, c.RetryAfter)
	protocol.WriteJSON(w, c.Status, admin.Error{Code: c.Code, Description: c.Description, Problems: c.Problems}) //nolint:errcheck // a fixed shape
}
