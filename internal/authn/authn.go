package authn

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/cache"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// Users is what authn needs of the users domain: what a user may do now.
type Users interface {
	Get(ctx context.Context, tenantID, userID string) (*store.User, error)
	// GetByEmail finds a user by login (an IdP token names it).
	GetByEmail(ctx context.Context, tenantID, email string) (*store.User, error)
	HasAPIAccess(ctx context.Context, u *store.User) (bool, error)
	// Scopes is what the user's roles grant.
	Scopes(ctx context.Context, u *store.User) ([]string, error)
}

// PATs is what authn needs to resolve personal access tokens.
type PATs interface {
	GetPATByDigest(ctx context.Context, digest string) (*store.PAT, error)
}

// APIKeys is what authn needs to resolve API-key session tokens.
type APIKeys interface {
	GetAPIKey(ctx context.Context, id string) (*store.APIKey, error)
}

// Tenants is what authn needs to read tenants' modes, budgets and IdP
// settings.
type Tenants interface {
	GetTenant(ctx context.Context, name string) (*store.Tenant, error)
	GetTenantByID(ctx context.Context, id string) (*store.Tenant, error)
}

// IdPVerifier verifies a token from a tenant's identity provider (a
// *federation.Verifier).
type IdPVerifier interface {
	Verify(ctx context.Context, raw string, t *store.Tenant) (*federation.Identity, error)
}

// Authenticator resolves bearer credentials to principals.
type Authenticator struct {
	Tokens  *token.Service
	Clients *clients.Service
	// Store holds the deny list.
	Store   store.Tokens
	Users   Users       // nil: no user credentials
	PATs    PATs        // nil: no personal access tokens
	APIKeys APIKeys     // nil: no API-key sessions
	Tenants Tenants     // nil: no PATs, IdP tokens or user-bound API keys
	IdP     IdPVerifier // nil: no IdP tokens
	// PATUsed, when set, is told of each accepted PAT with the caller's IP
	// (batched by the pats service).
	PATUsed func(id, ip string, at time.Time)
	Log     *slog.Logger
	Now     func() time.Time
	// CacheTTL bounds how long a lookup of what a holder may do (a user's
	// access and roles, a PAT, an API key, a tenant) and a failed check are
	// trusted: changes made on another replica are honoured within it.
	CacheTTL time.Duration

	once     sync.Once
	verdicts *cache.Cache[[32]byte, *token.Claims] // token digest → claims of a good token, or why not
	users    *cache.Cache[string, *holder]         // tenant/user id → what the user may do, or why nothing
	pats     *cache.Cache[string, *store.PAT]      // PAT digest (hex) → the token
	apiKeys  *cache.Cache[string, *store.APIKey]   // API key id → the key
	tenants  *cache.Cache[string, *store.Tenant]   // "id:…" or "name:…" → the tenant
	idp      *cache.Cache[[32]byte, *idpEntry]     // token digest → a verified IdP token, or why not

	denied      revocation.List
	refreshMu   sync.Mutex // one refresh at a time
	lastFull    time.Time  // when the whole list was last loaded
	lastRefresh time.Time
	lastSweep   time.Time // when expired entries were last dropped
}

// Cache bounds. Good verdicts can only come from credentials Gatehouse
// issued; failures from anyone, so they have a smaller cache of their own
// and can never push good verdicts out.
const (
	maxGood   = 100_000
	maxFailed = 10_000
)

func (a *Authenticator) init() {
	a.once.Do(func() {
		a.verdicts = cache.New[[32]byte, *token.Claims](maxGood, maxFailed, a.Now)
		a.users = cache.New[string, *holder](maxGood, maxFailed, a.Now)
		a.pats = cache.New[string, *store.PAT](maxGood, maxFailed, a.Now)
		a.apiKeys = cache.New[string, *store.APIKey](maxGood, maxFailed, a.Now)
		a.tenants = cache.New[string, *store.Tenant](maxFailed, maxFailed, a.Now)
		a.idp = cache.New[[32]byte, *idpEntry](maxGood, maxFailed, a.Now)
	})
}

// Authenticate resolves a bearer token that is not bound to a route's
// tenant. The error is ErrExpired, ErrInvalid, ErrRevoked or
// ErrNoAPIAccess for a bad credential (possibly wrapped with a reason);
// anything else is a failure to check it.
func (a *Authenticator) Authenticate(ctx context.Context, raw string) (*Principal, error) {
	return a.AuthenticateFor(ctx, raw, "")
}

// AuthenticateFor resolves a bearer token presented on a route of the named
// tenant ("" for none), which tells whose identity provider an IdP token
// is from.
func (a *Authenticator) AuthenticateFor(ctx context.Context, raw, tenant string) (*Principal, error) {
	a.init()
	now := a.Now()
	if strings.HasPrefix(raw, patPrefix) {
		return a.authenticatePAT(ctx, raw, now)
	}
	c, err := a.claims(ctx, raw, now)
	if err == errForeign {
		return a.authenticateIdP(ctx, raw, tenant, now)
	}
	if err != nil {
		return nil, err
	}
	if !now.Before(c.ExpiresAt()) {
		return nil, ErrExpired
	}
	// One deny list for every kind: the token itself, and the family it
	// was minted from.
	if a.denied.Has(revocation.Token, c.ID) || a.denied.Has(revocation.Family, c.SessionID) {
		return nil, ErrRevoked
	}
	if ctx.Value(inspecting{}) != nil {
		// Introspection answers with the store's word, not this replica's
		// copy: a resource server asking right after a revocation on
		// another replica is told at once (RFC 7662 §2.2), at the price of
		// one read.
		if denied, err := a.Store.IsDenied(ctx, denyIDs(c)...); err != nil || denied {
			return nil, cmp.Or[error](err, ErrRevoked)
		}
	}
	switch c.Auth {
	case credential.ClientCredentials:
		return a.clientToken(ctx, c)
	case credential.AuthorizationCode:
		return a.codeToken(ctx, c, now)
	case credential.APIKey:
		return a.apiKeyToken(ctx, c, now)
	}
	return nil, ErrInvalid // a kind this version does not know
}

// clientToken is a client acting for itself: what the token says, as far
// as the client may still do it.
func (a *Authenticator) clientToken(ctx context.Context, c *token.Claims) (*Principal, error) {
	owner, err := a.client(ctx, c.ClientID)
	if err != nil {
		return nil, err
	}
	p := a.forClient(c, owner)
	p.RateKey = "client:" + owner.Client.ID
	return p, nil
}

// forClient is the principal of a client's own token: its scopes and
// audiences as far as the client still has them, covering the tenants it
// is granted now, with its budgets.
func (a *Authenticator) forClient(c *token.Claims, owner *clients.Resolved) *Principal {
	return &Principal{Kind: c.Auth, Subject: owner.Client.ID, ClientID: owner.Client.ID, TokenID: c.ID, SessionID: c.SessionID,
		Tenant: owner.Tenant.Name, TenantID: owner.Tenant.ID, Orgs: slices.Clone(owner.Orgs),
		Scopes: Intersect(c.Scopes(), owner.Client.Scopes), Audience: a.audience(c, owner),
		Limits: owner.Budgets(store.RateLimits{}), Expiry: c.ExpiresAt(), IssuedAt: c.IssuedAt.Time()}
}

// audience is the token's audience as far as the client still has it (a
// client without audiences mints tokens for the issuer).
func (a *Authenticator) audience(c *token.Claims, owner *clients.Resolved) []string {
	have := owner.Client.Audiences
	if len(have) == 0 {
		have = []string{a.Tokens.Issuer}
	}
	return Intersect(c.Audience, have)
}

// codeToken is a client acting for the user who authorized it: what the
// token says, as far as the client may still ask for it and the user's
// roles still grant it, on the user's own tenant only.
func (a *Authenticator) codeToken(ctx context.Context, c *token.Claims, now time.Time) (*Principal, error) {
	owner, err := a.client(ctx, c.ClientID)
	if err != nil {
		return nil, err
	}
	h, err := a.user(ctx, owner.Tenant.ID, c.Subject, now)
	if err != nil {
		return nil, err
	}
	return &Principal{Kind: c.Auth, Subject: h.user.ID, UserID: h.user.ID, ClientID: owner.Client.ID, TokenID: c.ID,
		SessionID: c.SessionID, Tenant: owner.Tenant.Name, TenantID: owner.Tenant.ID, Orgs: []string{owner.Tenant.Name},
		Scopes: Intersect(c.Scopes(), owner.Client.Scopes, Grantable(h.scopes)), Audience: a.audience(c, owner),
		Limits: owner.Budgets(store.RateLimits{}), RateKey: "client:" + owner.Client.ID,
		Expiry: c.ExpiresAt(), IssuedAt: c.IssuedAt.Time()}, nil
}

// client is the token's client now: a deleted client's tokens die with it.
func (a *Authenticator) client(ctx context.Context, id string) (*clients.Resolved, error) {
	owner, err := a.Clients.Get(ctx, id)
	if errors.Is(err, clients.ErrUnknown) {
		return nil, ErrInvalid
	}
	return owner, err
}

// claims verifies a token, or remembers having done so: a JWT's verdict
// holds until it expires, and so does an opaque token's (its row does not
// change; revocation is the deny list's, checked on every request), except
// an opaque token from before tokens carried a jti, trusted for CacheTTL.
// Failures are remembered for CacheTTL.
func (a *Authenticator) claims(ctx context.Context, raw string, now time.Time) (*token.Claims, error) {
	key := sha256.Sum256([]byte(raw))
	if c, err, ok := a.verdicts.Get(key, now); ok {
		return c, err
	}
	if _, _, ok := a.idp.Get(key, now); ok {
		return nil, errForeign // an IdP token seen before: its own cache has the verdict
	}
	opaque := strings.HasPrefix(raw, "gate_")
	if !opaque && a.IdP != nil {
		if iss, _, ok := federation.Peek(raw); ok && iss != "" && iss != a.Tokens.Issuer {
			return nil, errForeign
		}
	}
	c, err := a.Tokens.Verify(ctx, raw)
	switch {
	case err == nil:
		until := c.ExpiresAt()
		if opaque && c.ID == "" {
			until = now.Add(a.CacheTTL)
		}
		a.verdicts.Put(key, c, until)
		return c, nil
	case errors.Is(err, token.ErrMalformed):
		return nil, ErrInvalid // cheap to tell again: not worth a cache slot
	case errors.Is(err, token.ErrExpired):
		err = ErrExpired
	case errors.Is(err, token.ErrRevoked):
		err = ErrRevoked
	case errors.Is(err, token.ErrSignature), errors.Is(err, token.ErrClaims):
		err = ErrInvalid
	default:
		return nil, err // store trouble: not a verdict
	}
	a.verdicts.Fail(key, err, now.Add(a.CacheTTL))
	return nil, err
}

// denyIDs are the deny-list ids that would revoke a token.
func denyIDs(c *token.Claims) []string {
	var ids []string
	if c.ID != "" {
		ids = append(ids, revocation.ID(revocation.Token, c.ID))
	}
	if c.SessionID != "" {
		ids = append(ids, revocation.ID(revocation.Family, c.SessionID))
	}
	return ids
}

type inspecting struct{}

// Inspecting marks ctx as a check of a credential on someone else's behalf
// (introspection): a PAT checked so is not recorded as used, and a token's
// revocation is read from the store, not this replica's copy.
func Inspecting(ctx context.Context) context.Context {
	return context.WithValue(ctx, inspecting{}, true)
}
