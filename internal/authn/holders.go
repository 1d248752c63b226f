package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/cache"
	"github.com/gatehouse/gatehouse/internal/store"
)

// holder is what a user may do now: they exist, have API access, and
// their roles grant scopes.
type holder struct {
	user   *store.User
	scopes []string
}

// user reads what the user a credential acts for may do now: ErrInvalid
// when the user is gone (their credentials die with them), ErrNoAPIAccess
// while they have no API access. The answer is kept for CacheTTL; a change
// through this replica drops it at once (Watch).
func (a *Authenticator) user(ctx context.Context, tenantID, userID string, now time.Time) (*holder, error) {
	if a.Users == nil {
		return nil, ErrInvalid
	}
	key := tenantID + "/" + userID
	if h, err, ok := a.users.Get(key, now); ok {
		return h, err
	}
	u, err := a.Users.Get(ctx, tenantID, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.users.Fail(key, ErrInvalid, now.Add(a.CacheTTL))
		return nil, ErrInvalid
	case err != nil:
		return nil, err
	}
	ok, err := a.Users.HasAPIAccess(ctx, u)
	if err != nil {
		return nil, err
	}
	if !ok {
		a.users.Fail(key, ErrNoAPIAccess, now.Add(a.CacheTTL))
		return nil, ErrNoAPIAccess
	}
	scopes, err := a.Users.Scopes(ctx, u)
	if err != nil {
		return nil, err
	}
	if scopes == nil {
		scopes = []string{} // holds nothing (nil would restrict nothing)
	}
	h := &holder{user: u, scopes: scopes}
	a.users.Put(key, h, now.Add(a.CacheTTL))
	return h, nil
}

// tenant reads a tenant by "id:" or "name:", remembering it for CacheTTL
// (so a mode switch or a budget change on any replica is honoured within
// it). An unknown tenant is ErrInvalid.
func (a *Authenticator) tenant(ctx context.Context, by, v string, now time.Time) (*store.Tenant, error) {
	if a.Tenants == nil {
		return nil, ErrInvalid
	}
	// Names that match no tenant come from anyone: kept with the failures,
	// so that they cannot push real tenants out.
	return lookup(a, a.tenants, by+v, now, func() (*store.Tenant, error) {
		if by == "id:" {
			return a.Tenants.GetTenantByID(ctx, v)
		}
		return a.Tenants.GetTenant(ctx, v)
	})
}

// lookup reads key from c, or fetches it and remembers the answer for
// CacheTTL: what was found, or that nothing was (ErrInvalid: a credential
// naming it is no good), so that junk cannot make every request a store
// read. A store failure is no verdict and is not remembered.
func lookup[K comparable, V any](a *Authenticator, c *cache.Cache[K, V], key K, now time.Time, fetch func() (V, error)) (V, error) {
	if v, err, ok := c.Get(key, now); ok {
		return v, err
	}
	v, err := fetch()
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.Fail(key, ErrInvalid, now.Add(a.CacheTTL))
		return v, ErrInvalid
	case err != nil:
		return v, err
	}
	c.Put(key, v, now.Add(a.CacheTTL))
	return v, nil
}

// ForgetUsers drops what is cached of every user's access and roles: a
// change to a user, a group or a role was made through this replica.
func (a *Authenticator) ForgetUsers() { a.init(); a.users.Clear() }

// ForgetTenants drops the cached tenants: a tenant's settings changed here.
func (a *Authenticator) ForgetTenants() { a.init(); a.tenants.Clear() }

// ForgetPAT drops the cached lookup of the PAT with this digest (hex
// SHA-256), so that its revocation here is honoured at once.
func (a *Authenticator) ForgetPAT(digest string) { a.init(); a.pats.Delete(digest) }

// ForgetAPIKey drops the cached lookup of an API key, so that its
// revocation here is honoured at once.
func (a *Authenticator) ForgetAPIKey(id string) { a.init(); a.apiKeys.Delete(id) }
