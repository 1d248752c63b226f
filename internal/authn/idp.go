package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

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
// settings).
type idpEntry struct {
	tenant  string // the tenant's name
	version time.Time
	id      *federation.Identity
	userID  string
}

// authenticateIdP resolves a token from the identity provider of the
// tenant named by the route (tenant) or, failing that, by the token's own
// <namespace>/tenant claim. The tenant must be in oauth mode; the login
// the token names must be a user of it with API access, whose roles are
// the token's scopes.
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
	h, err := a.user(ctx, t.ID, e.userID, now)
	if err != nil {
		return nil, err
	}
	return &Principal{Kind: credential.IdP, Subject: e.userID, UserID: e.userID, Tenant: t.Name, TenantID: t.ID,
		Orgs: []string{t.Name}, Scopes: h.scopes, Audience: e.id.Audience, Limits: limits(h.user.RateLimits, t.Settings.RateLimits),
		RateKey: "user:" + e.userID, Expiry: e.id.Expiry, IssuedAt: e.id.IssuedAt, Username: e.id.Email, Issuer: e.id.Issuer, Unbounded: true}, nil
}

// idpVerdict verifies the token for t and maps it to a user, or remembers
// having done so: a good verdict until the token expires (at most a
// minute, so a user renamed or removed is noticed), a refusal for
// CacheTTL; either only while t's settings are unchanged.
func (a *Authenticator) idpVerdict(ctx context.Context, raw string, t *store.Tenant, now time.Time) (*idpEntry, error) {
	key := sha256.Sum256([]byte(raw))
	e, err, ok := a.idp.Get(key, now)
	if ok && err != nil {
		var stale *idpRefusal
		if errors.As(err, &stale) && stale.tenant == t.Name && stale.version.Equal(t.UpdatedAt) {
			return nil, stale.err
		}
	} else if ok && e.tenant == t.Name && e.version.Equal(t.UpdatedAt) {
		return e, nil // fresh only until the token's expiry
	}
	id, err := a.IdP.Verify(ctx, raw, t)
	var r *federation.Refusal
	switch {
	case errors.Is(err, federation.ErrExpired):
		return nil, ErrExpired // not worth a cache slot
	case errors.As(err, &r):
		return nil, a.idpRefuse(key, t, invalid(r.Error()), now)
	case err != nil:
		return nil, err // the IdP could not be reached: not a verdict
	}
	u, err := a.Users.GetByEmail(ctx, t.ID, id.Email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, a.idpRefuse(key, t, errNoUser, now)
	case err != nil:
		return nil, err
	}
	e = &idpEntry{tenant: t.Name, version: t.UpdatedAt, id: id, userID: u.ID}
	until := now.Add(time.Minute)
	if id.Expiry.Before(until) {
		until = id.Expiry
	}
	a.idp.Put(key, e, until)
	return e, nil
}

// idpRefusal is a remembered refusal of an IdP token by one tenant's
// settings.
type idpRefusal struct {
	tenant  string
	version time.Time
	err     error
}

func (r *idpRefusal) Error() string { return r.err.Error() }
func (r *idpRefusal) Unwrap() error { return r.err }

func (a *Authenticator) idpRefuse(key [32]byte, t *store.Tenant, err error, now time.Time) error {
	a.idp.Fail(key, &idpRefusal{tenant: t.Name, version: t.UpdatedAt, err: err}, now.Add(a.CacheTTL))
	return err
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
