// Package authn turns a bearer credential into a Principal for the gateway:
// a Gatehouse JWT (verified once, then remembered until it expires), an
// opaque Gatehouse token (looked up by digest, cached briefly with negative
// caching), checked against an in-memory copy of the jti deny list that
// every replica refreshes every --deny-list-refresh, and against the token's client,
// which must still exist; and personal access tokens (gate_pat_…), looked
// up by digest and cached like opaque tokens, honoured while their user
// exists and has API access; and API-key session tokens (auth "api_key"),
// honoured while their key is not revoked and its user or client is good;
// and access tokens from a tenant's own identity provider (tenants in
// user_auth_mode oauth, whose PATs are refused meanwhile), mapped to a user
// by the login they name.
package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// Principal is who is calling.
type Principal struct {
	Subject  string
	ClientID string
	Tenant   string // the home tenant
	Scopes   []string
	Audience []string
	Auth     string    // client_credentials, authorization_code, pat, …
	Expiry   time.Time // zero: a PAT that never expires
	// PATID is the personal access token's id when Auth is "pat".
	PATID string
	// Username, Issuer and IssuedAt describe an IdP token (Auth "idp"):
	// the login it names and who issued it.
	Username string
	Issuer   string
	IssuedAt time.Time
	// RateKey names the budget the caller draws from (per integration for
	// client tokens).
	RateKey string
	client  *clients.Resolved
}

// Covers reports whether the principal may act on the named tenant, by the
// client's current grants (case-sensitive).
func (p *Principal) Covers(tenant string) bool {
	if p.client == nil {
		return tenant == p.Tenant
	}
	return p.client.Covers(tenant)
}

// Budgets returns the principal's gateway budgets: its client's, else its
// tenant's, else def's.
func (p *Principal) Budgets(def store.RateLimits) store.RateLimits {
	if p.client == nil {
		return def
	}
	return p.client.Budgets(def)
}

// HasScope reports whether the principal holds scope.
func (p *Principal) HasScope(scope string) bool {
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Failure reasons; their text is safe to send in error_description.
var (
	ErrExpired = errors.New("the access token expired")
	ErrInvalid = errors.New("the access token is invalid")
	ErrRevoked = errors.New("the access token was revoked")
	// ErrNoAPIAccess: the token is good but the user it acts for has no
	// API access now (it works again if access is given back).
	ErrNoAPIAccess = errors.New("the user the access token acts for has no API access")
)

// Users is what authn needs of the users domain: user tokens are honoured
// only while their user exists and has API access.
type Users interface {
	Get(ctx context.Context, tenantID, userID string) (*store.User, error)
	// GetByEmail finds a user by login (an IdP token names it).
	GetByEmail(ctx context.Context, tenantID, email string) (*store.User, error)
	HasAPIAccess(ctx context.Context, u *store.User) (bool, error)
	// Scopes is what the user's roles grant (a PAT acts with them).
	Scopes(ctx context.Context, u *store.User) ([]string, error)
}

// PATs is what authn needs to resolve personal access tokens.
type PATs interface {
	GetPATByDigest(ctx context.Context, digest string) (*store.PAT, error)
}

// Authenticator resolves bearer tokens.
type Authenticator struct {
	Tokens  *token.Service
	Clients *clients.Service
	Store   store.Tokens
	Users   Users       // nil: no user tokens
	PATs    PATs        // nil: no personal access tokens
	APIKeys APIKeys     // nil: no API-key sessions
	Tenants Tenants     // nil: no PATs or IdP tokens
	IdP     IdPVerifier // nil: no IdP tokens
	// PATUsed, when set, is told of each accepted PAT with the caller's IP
	// (batched by the pats service).
	PATUsed func(id, ip string, at time.Time)
	Log     *slog.Logger
	Now     func() time.Time
	// CacheTTL bounds how long an opaque-token lookup is trusted.
	CacheTTL time.Duration

	mu             sync.RWMutex
	access         map[string]accessEntry  // tenant/user → API access, briefly
	verified       map[[32]byte]*entry     // token digest → claims of a good token
	failed         map[[32]byte]*entry     // token digest → why a well-formed token failed
	pats           map[string]*patEntry    // PAT digest (hex) → the token
	patsFailed     map[string]*patEntry    // PAT digest (hex) → why it failed
	apiKeys        map[string]*apiKeyEntry // API key id → the key, briefly
	tenants        map[string]tenantEntry  // "id:…" or "name:…" → the tenant, briefly
	tenantsMissing map[string]tenantEntry  // the same, for names of no tenant
	idp            map[[32]byte]*idpEntry  // token digest → a verified IdP token
	idpFailed      map[[32]byte]*idpEntry  // token digest → why an IdP token failed
	denied         atomic.Pointer[map[string]time.Time]

	refreshMu   sync.Mutex // one refresh at a time
	lastFull    time.Time  // when the whole list was last loaded
	lastRefresh time.Time
}

// The deny list is loaded whole every fullReload (dropping expired
// entries), and in between only what was denied since the last load, less
// an overlap that absorbs clock skew between replicas and transactions that
// commit late.
const (
	fullReload = time.Minute
	overlap    = 10 * time.Second
)

type entry struct {
	claims *token.Claims
	err    error
	until  time.Time // trust the entry until then
}

// Cache bounds. Good verdicts can only come from tokens Gatehouse issued;
// failures from anyone, so they have a smaller cache of their own and can
// never push good verdicts out. A full cache drops a random tenth.
const (
	maxVerified = 100_000
	maxFailed   = 10_000
)

// Authenticate resolves a bearer token that is not bound to a route's
// tenant. The error is ErrExpired, ErrInvalid or ErrRevoked for a bad
// token (possibly wrapped with a reason); anything else is an internal
// failure.
func (a *Authenticator) Authenticate(ctx context.Context, raw string) (*Principal, error) {
	return a.AuthenticateFor(ctx, raw, "")
}

// AuthenticateFor resolves a bearer token presented on a route of the named
// tenant ("" for none), which tells whose identity provider an IdP token
// is from.
func (a *Authenticator) AuthenticateFor(ctx context.Context, raw, tenant string) (*Principal, error) {
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
	if c.ID != "" && a.isDenied(c.ID) {
		return nil, ErrRevoked
	}
	if c.Auth == "api_key" {
		return a.authenticateAPIKey(ctx, c, now)
	}
	owner, err := a.Clients.Get(ctx, c.ClientID)
	if errors.Is(err, clients.ErrUnknown) {
		return nil, ErrInvalid // the client was deleted: its tokens die with it
	}
	if err != nil {
		return nil, err
	}
	if c.Auth == "authorization_code" {
		if _, err := a.userAccess(ctx, owner.Tenant.ID, c.Subject, now); err != nil {
			return nil, err
		}
	}
	return &Principal{Subject: c.Subject, ClientID: c.ClientID, Tenant: owner.Tenant.Name, Scopes: c.Scopes(), Audience: c.Audience,
		Auth: c.Auth, Expiry: c.ExpiresAt(), RateKey: "client:" + c.ClientID, client: owner}, nil
}

// claims verifies a token, or remembers having done so: a JWT's verdict
// holds until it expires (revocation is checked separately, each time); an
// opaque token's for CacheTTL.
func (a *Authenticator) claims(ctx context.Context, raw string, now time.Time) (*token.Claims, error) {
	key := sha256.Sum256([]byte(raw))
	a.mu.RLock()
	e := a.verified[key]
	foreign := false
	if e == nil {
		e = a.failed[key]
		_, foreign = a.idp[key]
	}
	a.mu.RUnlock()
	if e != nil && now.Before(e.until) {
		return e.claims, e.err
	}
	if foreign { // an IdP token seen before: its own cache has the verdict
		return nil, errForeign
	}
	opaque := strings.HasPrefix(raw, "gate_")
	if !opaque && a.IdP != nil {
		if iss, _, ok := federation.Peek(raw); ok && iss != "" && iss != a.Tokens.Issuer {
			return nil, errForeign // not remembered here: IdP verdicts have their own cache
		}
	}
	var c *token.Claims
	var err error
	if opaque {
		c, err = a.Tokens.Verify(ctx, raw) // includes the revoked flag
	} else {
		c, err = a.Tokens.VerifyJWT(ctx, raw)
	}
	switch {
	case err == nil:
	case errors.Is(err, token.ErrMalformed):
		return nil, ErrInvalid // cheap to tell again: not worth a cache slot
	case errors.Is(err, token.ErrExpired):
		err = ErrExpired
	case errors.Is(err, token.ErrRevoked):
		err = ErrRevoked
	case errors.Is(err, token.ErrSignature), errors.Is(err, token.ErrClaims):
		err = ErrInvalid
	default:
		return nil, err // store trouble: not cached
	}
	e = &entry{claims: c, err: err, until: now.Add(a.CacheTTL)}
	if err == nil && !opaque {
		e.until = c.ExpiresAt()
	}
	a.mu.Lock()
	rememberVerdict(&a.verified, &a.failed, key, e, err == nil)
	a.mu.Unlock()
	return c, err
}

// rememberVerdict stores e in good, or, when it records a failure, in
// failed: failures come from anyone, so they have a smaller map of their
// own and can never push good verdicts out. Call with a.mu held.
func rememberVerdict[K comparable, V any](good, failed *map[K]V, key K, e V, ok bool) {
	if ok {
		*good = remember(*good, key, e, maxVerified)
	} else {
		*failed = remember(*failed, key, e, maxFailed)
	}
}

// remember stores e under key in m (made if nil), first dropping a random
// tenth of the entries when m is full. Call with a.mu held.
func remember[K comparable, V any](m map[K]V, key K, e V, limit int) map[K]V {
	if m == nil {
		m = make(map[K]V)
	}
	if len(m) >= limit {
		drop := limit / 10
		for k := range m { // map order is random
			if drop == 0 {
				break
			}
			delete(m, k)
			drop--
		}
	}
	m[key] = e
	return m
}

// Denied reports whether id (a token's jti, or another id put on the list
// with Deny) is on this replica's copy of the deny list.
func (a *Authenticator) Denied(id string) bool { return a.isDenied(id) }

// Deny puts id on the deny list until until, with ev, in the store (every
// replica has it within --deny-list-refresh) and at once here.
func (a *Authenticator) Deny(ctx context.Context, id string, until time.Time, ev store.Event) error {
	if err := a.Store.DenyJTI(ctx, id, until, ev); err != nil {
		return err
	}
	a.addDenied(map[string]time.Time{id: until})
	return nil
}

func (a *Authenticator) isDenied(jti string) bool {
	m := a.denied.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[jti]
	return ok
}

// RefreshDenyList brings the in-memory deny list up to date with the
// store. Run calls it every interval, so a revocation on any replica is
// honoured everywhere within that interval (plus one query).
func (a *Authenticator) RefreshDenyList(ctx context.Context) error {
	a.refreshMu.Lock()
	defer a.refreshMu.Unlock()
	now := a.Now()
	if a.denied.Load() == nil || now.Sub(a.lastFull) >= fullReload {
		m, err := a.Store.DeniedJTIs(ctx, now, time.Time{})
		if err != nil {
			return err
		}
		// Revocations this replica heard of while the query ran are in m
		// (the store was written first) or will be in the next load.
		a.denied.Store(&m)
		a.lastFull, a.lastRefresh = now, now
		return nil
	}
	fresh, err := a.Store.DeniedJTIs(ctx, now, a.lastRefresh.Add(-overlap))
	if err != nil {
		return err
	}
	a.lastRefresh = now
	a.addDenied(fresh)
	return nil
}

// addDenied merges entries into the deny list, copying it only when
// something is new.
func (a *Authenticator) addDenied(entries map[string]time.Time) {
	for {
		old := a.denied.Load()
		var m map[string]time.Time
		for jti, until := range entries {
			if old != nil {
				if _, ok := (*old)[jti]; ok {
					continue
				}
			}
			if m == nil {
				m = make(map[string]time.Time, len(entries))
				if old != nil {
					for k, v := range *old {
						m[k] = v
					}
				}
			}
			m[jti] = until
		}
		if m == nil || a.denied.CompareAndSwap(old, &m) {
			return
		}
	}
}

// Run refreshes the deny list every interval until ctx ends.
func (a *Authenticator) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.RefreshDenyList(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("deny list refresh failed", "err", err)
			}
		}
	}
}

// Revoked records a revocation made through this replica (raw is the
// token, c its claims) at once, ahead of the next refresh: a JWT's jti joins
// the deny list, and any cached verdict on the token is forgotten.
func (a *Authenticator) Revoked(raw string, c *token.Claims) {
	if c != nil && c.ID != "" {
		a.addDenied(map[string]time.Time{c.ID: c.ExpiresAt()})
	}
	key := sha256.Sum256([]byte(raw))
	a.mu.Lock()
	delete(a.verified, key)
	delete(a.failed, key)
	a.mu.Unlock()
}

type accessEntry struct {
	err    error    // nil: has access
	scopes []string // what the user's roles grant, when err is nil
	until  time.Time
}

// userAccess checks, at request time, that the user a token acts for still
// exists and has API access, and returns the scopes the user's roles
// grant; the answer is kept for CacheTTL.
func (a *Authenticator) userAccess(ctx context.Context, tenantID, userID string, now time.Time) ([]string, error) {
	if a.Users == nil {
		return nil, ErrInvalid
	}
	key := tenantID + "/" + userID
	a.mu.RLock()
	e, ok := a.access[key]
	a.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.scopes, e.err
	}
	var verdict error
	var scopes []string
	u, err := a.Users.Get(ctx, tenantID, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		verdict = ErrInvalid // the user was deleted: their tokens die with them
	case err != nil:
		return nil, err
	default:
		ok, err := a.Users.HasAPIAccess(ctx, u)
		if err != nil {
			return nil, err
		}
		if !ok {
			verdict = ErrNoAPIAccess
		} else if scopes, err = a.Users.Scopes(ctx, u); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	a.access = remember(a.access, key, accessEntry{err: verdict, scopes: scopes, until: now.Add(a.CacheTTL)}, maxVerified)
	a.mu.Unlock()
	return scopes, verdict
}
