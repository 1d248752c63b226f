package authserver

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// inactive is RFC 7662 §2.2's whole answer for a token that is unknown,
// expired, revoked or not the caller's business.
var inactive = map[string]bool{"active": false}

type introspection struct {
	Active    bool            `json:"active"`
	Scope     string          `json:"scope,omitempty"`
	ClientID  string          `json:"client_id,omitempty"`
	Username  string          `json:"username,omitempty"`
	TokenType string          `json:"token_type"`
	Exp       int64           `json:"exp,omitempty"`
	Iat       int64           `json:"iat,omitempty"`
	Sub       string          `json:"sub"`
	Aud       []string        `json:"aud,omitempty"`
	Iss       string          `json:"iss"`
	Jti       string          `json:"jti,omitempty"`
	Tenant    string          `json:"tenant"`
	Orgs      []string        `json:"orgs,omitempty"`
	Auth      credential.Kind `json:"auth"`
}

// Authenticator resolves a credential to what it may do now (an
// *authn.Authenticator): introspection answers exactly as the gateway
// would judge the token.
type Authenticator interface {
	Authenticate(ctx context.Context, raw string) (*authn.Principal, error)
	AuthenticateFor(ctx context.Context, raw, tenant string) (*authn.Principal, error)
}

// introspect is POST /oauth2/introspect (RFC 7662). The caller
// authenticates as a client and may only learn about credentials that
// cover its tenant: its tenant's users' (PATs, IdP tokens, delegated and
// API-key tokens of its users) and clients' tokens, or those of a client
// currently granted its tenant. The answer is the principal the token
// stands for now: its scopes as far as its holder still has them.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	caller, raw, ok := s.callerAndToken(w, r)
	if !ok {
		return
	}
	who, err := s.Auth.AuthenticateFor(authn.Inspecting(r.Context()), raw, caller.Tenant.Name)
	switch {
	case err != nil && !authn.IsVerdict(err):
		// Not a verdict on the token: "inactive" would tell the resource
		// server a good token is dead.
		protocol.WriteError(w, err, s.Log)
		return
	case err != nil || !who.Covers(caller.Tenant.Name):
		protocol.WriteJSON(w, http.StatusOK, inactive)
		return
	}
	out := introspection{Active: true, Scope: strings.Join(who.Scopes, " "), ClientID: who.ClientID, Username: who.Username,
		TokenType: "Bearer", Exp: unix(who.Expiry), Iat: unix(who.IssuedAt), Sub: who.Subject, Aud: who.Audience,
		Iss: cmp.Or(who.Issuer, s.Issuer), Jti: who.TokenID, Tenant: who.Tenant, Orgs: who.Orgs, Auth: who.Kind}
	if who.ActsForUser() {
		out.Orgs = nil // a user's credential covers the user's tenant only
	}
	protocol.WriteJSON(w, http.StatusOK, out)
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// revoke is POST /oauth2/revoke (RFC 7009). RFC 7009 §2.2: "invalid tokens
// do not cause an error response", so unknown, expired and already revoked
// tokens all get 200.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	caller, raw, c, owner, ok := s.tokenRequest(w, r)
	if !ok {
		return
	}
	// A refresh token revokes its whole family (RFC 7009 §2.1: "the
	// authorization server SHOULD also invalidate the access token" issued
	// from the same grant) when the caller is the client it was issued to.
	if s.Store != nil && secret.Parse(raw, secret.RefreshToken) == nil {
		if f, _, err := s.Store.GetFamilyByToken(r.Context(), secret.Hash(raw).String()); err == nil && f.ClientID == caller.Client.ID {
			ev := audit.New(r.Context(), s.Now(), f.TenantID, "client:"+caller.Client.ID, audit.OAuthFamilyRevoke, f.ID, audit.Success)
			if _, err := s.Store.RevokeFamilies(r.Context(), store.FamilyFilter{ID: f.ID}, s.Now(), ev); err != nil {
				protocol.WriteError(w, err, s.Log)
				return
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			protocol.WriteError(w, err, s.Log)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return
	}
	// A token that does not cover the caller's tenant is treated like an
	// unknown one, so revocation reveals no more than introspection would.
	if c != nil && owner.Covers(caller.Tenant.Name) {
		// RFC 7009 §2.1: the server "verifies whether the token was issued
		// to the client making the revocation request".
		if c.ClientID != caller.Client.ID {
			protocol.WriteError(w, protocol.ErrUnauthorizedClient.WithDescription("the token was not issued to this client"), s.Log)
			return
		}
		ev := audit.New(r.Context(), s.Now(), caller.Tenant.ID, "client:"+caller.Client.ID, audit.TokenRevoke, c.ID, audit.Success)
		if c.ID == "" {
			ev.Target = "opaque"
		}
		// Through the watched store: this replica refuses the token before
		// the answer goes out.
		if err := s.Tokens.Revoke(r.Context(), raw, c, ev); err != nil && !errors.Is(err, store.ErrNotFound) {
			protocol.WriteError(w, err, s.Log)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// callerAndToken does the steps introspection and revocation share: decode
// the body, authenticate the caller and read the token parameter. When ok
// is false the error response has been written.
func (s *Server) callerAndToken(w http.ResponseWriter, r *http.Request) (caller *clients.Resolved, raw string, ok bool) {
	p, perr := protocol.ParseBody(w, r)
	if perr == nil {
		caller, perr = s.authenticateClient(r, p)
	}
	if perr == nil && p.Get("token") == "" {
		perr = protocol.ErrInvalidRequest.WithDescription("token is required")
	}
	if perr != nil {
		protocol.WriteError(w, perr, s.Log)
		return nil, "", false
	}
	return caller, p.Get("token"), true
}

// tokenRequest is callerAndToken with the token resolved (claims and
// owner are nil for a token that does not verify), for revocation.
func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request) (caller *clients.Resolved, raw string, c *token.Claims, owner *clients.Resolved, ok bool) {
	caller, raw, ok = s.callerAndToken(w, r)
	if !ok {
		return nil, "", nil, nil, false
	}
	c, owner, err := s.resolve(r, raw)
	if err != nil {
		protocol.WriteError(w, err, s.Log)
		return nil, "", nil, nil, false
	}
	return caller, raw, c, owner, true
}

// resolve verifies a token and finds the client it was issued to. A token
// that does not verify, or whose client is gone, resolves to nil.
func (s *Server) resolve(r *http.Request, raw string) (*token.Claims, *clients.Resolved, error) {
	c, err := s.Tokens.Verify(r.Context(), raw)
	if err != nil {
		if isVerifyFailure(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	owner, err := s.Clients.Get(r.Context(), c.ClientID)
	if errors.Is(err, clients.ErrUnknown) {
		return nil, nil, nil
	}
	return c, owner, err
}

func isVerifyFailure(err error) bool {
	for _, e := range []error{token.ErrMalformed, token.ErrSignature, token.ErrExpired, token.ErrRevoked, token.ErrClaims} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
