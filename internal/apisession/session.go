package apisession

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// Store is what sessions need persisted.
type Store interface {
	GetAPIKeyByDigest(ctx context.Context, digest string) (*store.APIKey, error)
	GetAPIKey(ctx context.Context, id string) (*store.APIKey, error)
	RecordAPIKeyLogin(ctx context.Context, id string, at time.Time) error
	CreateFamily(ctx context.Context, f *store.RefreshFamily, tokenDigest string, ev store.Event) error
	GetFamilyByToken(ctx context.Context, digest string) (*store.RefreshFamily, int64, error)
	UpdateFamilyByToken(ctx context.Context, digest string, fn func(f *store.RefreshFamily, issuedAt int64) (string, *store.Event, error)) (*store.RefreshFamily, error)
	RevokeFamilies(ctx context.Context, f store.FamilyFilter, now time.Time, ev store.Event) (int, error)
	GetTenantByID(ctx context.Context, id string) (*store.Tenant, error)
}

// Users is what sessions need of the users domain: a key acting for a
// user works only while the user exists and has API access.
type Users interface {
	Get(ctx context.Context, tenantID, userID string) (*store.User, error)
	HasAPIAccess(ctx context.Context, u *store.User) (bool, error)
	// Scopes is what the user's roles grant.
	Scopes(ctx context.Context, u *store.User) ([]string, error)
}

// Handler serves /auth/login, /auth/refresh and /auth/logout.
type Handler struct {
	Store   Store
	Users   Users
	Clients *clients.Service
	Tokens  *token.Service
	Limiter ratelimit.Limiter
	Audit   *audit.Recorder
	// Alert, when set, tells the tenant's webhook of a throttled key
	// (webhook.Service.Enqueue).
	Alert      func(ctx context.Context, tenantID, typ, dedupKey string, data any) error
	Issuer     string
	DefaultTTL time.Duration
	Log        *slog.Logger
	Now        func() time.Time
}

// Mount registers the endpoints on the public mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /auth/login", h.login)
	mux.HandleFunc("POST /auth/refresh", h.refresh)
	mux.HandleFunc("POST /auth/logout", h.logout)
}

// Errors of this surface, beyond RFC 6749's.
var (
	errBadKey        = protocol.ErrInvalidClient.WithDescription("the API key is unknown, revoked or expired")
	errBadRefresh    = protocol.ErrInvalidGrant.WithDescription("the refresh token is invalid or the session has ended")
	errSessionEnded  = &protocol.Error{Code: "session_expired", Status: http.StatusBadRequest, Description: "the session reached its lifetime: log in again"}
	errRefreshReused = protocol.ErrInvalidGrant.WithDescription("the refresh token was already used; the session is ended")
	errScopeLost     = protocol.ErrInvalidGrant.WithDescription("the API key's user or client no longer holds any of the scopes of this session: log in again")
)

// tooEarlyError refuses a refresh while the access token is still good.
type tooEarlyError struct{ wait time.Duration }

func (e *tooEarlyError) Error() string { return "refresh_too_early" }

// pair is the login and refresh response.
type pair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

// settings are a tenant's session settings with defaults applied.
type settings struct {
	lifetime, skew time.Duration
	loginsPerHour  int
}

func settingsOf(t *store.Tenant) settings {
	s := settings{store.DefaultAPISessionLifetime, store.DefaultRefreshSkew, store.DefaultAPIKeyLoginsPerHour}
	if v := t.Settings.APISessionLifetime; v > 0 {
		s.lifetime = v
	}
	if v := t.Settings.RefreshSkew; v > 0 {
		s.skew = v
	}
	if v := t.Settings.APIKeyLoginsPerHour; v > 0 {
		s.loginsPerHour = v
	}
	return s
}

// subject checks that what the key acts for is still good and returns the
// token request for it (client id and subject, audience, TTL) with the
// scopes its holder has now: a user's roles, or the client's scopes.
func (h *Handler) subject(ctx context.Context, k *store.APIKey, t *store.Tenant) (*token.Request, []string, error) {
	req := &token.Request{ClientID: authn.APIKeyClientPrefix + k.ID, TenantID: t.ID, Tenant: t.Name, Orgs: []string{t.Name},
		Audience: []string{h.Issuer}, Auth: credential.APIKey, Format: store.FormatJWT, TTL: h.DefaultTTL}
	if t.Settings.AccessTokenTTL > 0 {
		req.TTL = t.Settings.AccessTokenTTL
	}
	if k.UserID != "" {
		u, err := h.Users.Get(ctx, k.TenantID, k.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, errBadKey
		}
		if err != nil {
			return nil, nil, err
		}
		ok, err := h.Users.HasAPIAccess(ctx, u)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, protocol.ErrInvalidGrant.WithDescription("the API key's user has no API access")
		}
		scopes, err := h.Users.Scopes(ctx, u)
		if err != nil {
			return nil, nil, err
		}
		req.Subject = u.ID
		return req, nonNil(scopes), nil
	}
	c, err := h.Clients.Get(ctx, k.ClientID)
	if errors.Is(err, clients.ErrUnknown) {
		return nil, nil, errBadKey
	}
	if err != nil {
		return nil, nil, err
	}
	req.Subject, req.TTL = c.Client.ID, c.TTL(req.TTL)
	if len(c.Client.Audiences) > 0 {
		req.Audience = slices.Clone(c.Client.Audiences)
	}
	return req, nonNil(c.Client.Scopes), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{} // holds nothing; nil would restrict nothing
	}
	return s
}

// waitSeconds rounds a wait up to whole seconds, at least one.
func waitSeconds(d time.Duration) int64 { return max(int64(math.Ceil(d.Seconds())), 1) }
