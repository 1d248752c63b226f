package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

// IdPVerifier verifies a token from a tenant's identity provider (a
// *federation.Verifier).
type IdPVerifier interface {
	Verify(ctx context.Context, raw string, t *store.Tenant) (*federation.Identity, error)
}

// Tenants is what authn needs to read tenants' modes and IdP settings.
type Tenants interface {
	GetTenant(ctx context.Context, name string) (*store.Tenant, error)
	GetTenantByID(ctx context.Context, id string) (*store.Tenant, error)
}

// errForeign: a JWT some other issuer signed (a tenant's IdP, perhaps).
var errForeign = errors.New("authn: not a Gatehouse token")

// invalid is ErrInvalid with the reason, for error_description.
func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalid, reason) }

var (
	errPATsOff = invalid("personal access tokens are turned off for this tenant: it uses its identity provider (user_auth_mode oauth)")
	errIdPOff  = invalid("this tenant accepts personal access tokens, not identity-provider tokens (user_auth_mode pat)")
	errNoUser  = invalid("no user of this tenant has the login the token names")
	errWhere   = invalid("the token does not say which tenant it is for: call a route with the tenant in its path, or add the <namespace>/tenant claim")
)

// idpEntry is a verified IdP token for one tenant (at one version of its
// settings), or why it failed.
type idpEntry struct {
	tenant  string // the tenant's name
	version time.Time
	id      *federation.Identity
	userID  string
	err     error
	until   time.Time
}

// authenticateIdP resolves a token from the identity provider of the
// tenant named by the route (tenant) or, failing that, by the token's own
// <namespace>/tenant claim. The tenant must be in oauth mode; the login
// the token names must be a user of it with API access.
func (a *Authenticator) authenticateIdP(ctx context.Context, raw, tenant string, now time.Time) (*Principal, error) {
	if a.IdP == nil {
		return nil, ErrInvalid
	}
	fromClaim := tenant == ""
	if fromClaim {
		tenant = claimedTenant(raw)
	}
	if !tenants.ValidName(tenant) {
		return nil, errWhere
	}
	t, err := a.tenant(ctx, "name:", tenant, now)
	if err != nil {
		return nil, err
	}
	if !t.Settings.OAuthMode() {
		if fromClaim {
			return nil, ErrInvalid // an unverified claim learns nothing of the tenant
		}
		return nil, errIdPOff
	}
	if fromClaim {
		// The claim that picked the tenant must be the tenant's own
		// <ns>/tenant, verified with the rest.
		strict := *t
		strict.Settings.IdP.RequireTenantClaim = true
		t = &strict
	}
	e, err := a.idpVerdict(ctx, raw, t, now)
	if err != nil {
		return nil, err
	}
	scopes, err := a.userAccess(ctx, t.ID, e.userID, now)
	if err != nil {
		return nil, err
	}
	return &Principal{Subject: e.userID, Tenant: t.Name, Scopes: scopes, Audience: e.id.Audience, Auth: "idp",
		Expiry: e.id.Expiry, RateKey: "user:" + e.userID, Username: e.id.Email, Issuer: e.id.Issuer, IssuedAt: e.id.IssuedAt}, nil
}

// idpVerdict verifies the token for t and maps it to a user, or remembers
// having done so: a good verdict until the token expires (at most a
// minute, so a user renamed or removed is noticed), a refusal for
// CacheTTL; either only while t's settings are unchanged.
func (a *Authenticator) idpVerdict(ctx context.Context, raw string, t *store.Tenant, now time.Time) (*idpEntry, error) {
	key := sha256.Sum256([]byte(raw))
	a.mu.RLock()
	e := a.idp[key]
	if e == nil {
		e = a.idpFailed[key]
	}
	a.mu.RUnlock()
	if e != nil && now.Before(e.until) && e.tenant == t.Name && e.version.Equal(t.UpdatedAt) {
		if e.err != nil {
			return nil, e.err
		}
		return e, nil // until is no later than the token's expiry
	}
	e = &idpEntry{tenant: t.Name, version: t.UpdatedAt, until: now.Add(a.CacheTTL)}
	id, err := a.IdP.Verify(ctx, raw, t)
	var r *federation.Refusal
	switch {
	case errors.Is(err, federation.ErrExpired):
		return nil, ErrExpired // not worth a cache slot
	case errors.As(err, &r):
		e.err = invalid(r.Error())
	case err != nil:
		return nil, err // the IdP could not be reached: not a verdict
	default:
		u, err := a.Users.GetByEmail(ctx, t.ID, id.Email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e.err = errNoUser
		case err != nil:
			return nil, err
		default:
			e.id, e.userID, e.until = id, u.ID, now.Add(time.Minute)
			if id.Expiry.Before(e.until) {
				e.until = id.Expiry
			}
		}
	}
	a.mu.Lock()
	rememberVerdict(&a.idp, &a.idpFailed, key, e, e.err == nil)
	a.mu.Unlock()
	return e, e.err
}

// claimedTenant is the value of the token's */tenant claim, unverified:
// only to pick the tenant whose IdP will then verify it (and the claim
// against the tenant's own namespace).
func claimedTenant(raw string) string {
	_, claims, ok := federation.Peek(raw)
	if !ok {
		return ""
	}
	found := ""
	for k, v := range claims {
		if s, ok := v.(string); ok && strings.HasSuffix(k, "/tenant") {
			if found != "" && found != s {
				return "" // ambiguous
			}
			found = s
		}
	}
	return found
}

type tenantEntry struct {
	t     *store.Tenant
	err   error
	until time.Time
}

// tenant reads a tenant by "id:" or "name:", remembering it for CacheTTL
// (so a mode switch on any replica is honoured within it). An unknown
// tenant is ErrInvalid.
func (a *Authenticator) tenant(ctx context.Context, by, v string, now time.Time) (*store.Tenant, error) {
	if a.Tenants == nil {
		return nil, ErrInvalid
	}
	key := by + v
	a.mu.RLock()
	e, ok := a.tenants[key]
	if !ok {
		e, ok = a.tenantsMissing[key]
	}
	a.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.t, e.err
	}
	e = tenantEntry{until: now.Add(a.CacheTTL)}
	var err error
	if by == "id:" {
		e.t, err = a.Tenants.GetTenantByID(ctx, v)
	} else {
		e.t, err = a.Tenants.GetTenant(ctx, v)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.t, e.err = nil, ErrInvalid
	case err != nil:
		return nil, err
	}
	// Names that match no tenant come from anyone: kept apart, so that they
	// cannot push real tenants out.
	a.mu.Lock()
	if e.err == nil {
		a.tenants = remember(a.tenants, key, e, maxFailed)
	} else {
		a.tenantsMissing = remember(a.tenantsMissing, key, e, maxFailed)
	}
	a.mu.Unlock()
	return e.t, e.err
}
