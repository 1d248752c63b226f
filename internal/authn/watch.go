package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Watch returns s with every change made through it that can take
// authority away from a credential reported to a at once: deny-list
// writes (a token revoked, a family ended, an API key revoked, a consent
// withdrawn) are pulled into this replica's copy before the call returns,
// and what is cached of a PAT, an API key, a user's access and roles, or a
// tenant is dropped.
// Every replica's surfaces write through their watched store, so "at once
// on the replica that took it" needs no hook in any of them; other
// replicas catch up within --deny-list-refresh.
func (a *Authenticator) Watch(s store.Store) store.Store { return &watched{Store: s, a: a} }

type watched struct {
	store.Store
	a *Authenticator
}

func (w *watched) Deny(ctx context.Context, ids map[string]time.Time, ev store.Event) error {
	err := w.Store.Deny(ctx, ids, ev)
	if err == nil {
		for id, until := range ids {
			w.a.denied.AddID(id, until)
		}
	}
	return err
}

func (w *watched) RevokeOpaqueToken(ctx context.Context, digest string, ev store.Event) error {
	err := w.Store.RevokeOpaqueToken(ctx, digest, ev)
	if err == nil {
		w.a.sync(ctx)
	}
	return err
}

func (w *watched) RevokeFamilies(ctx context.Context, f store.FamilyFilter, now time.Time, ev store.Event) (int, error) {
	n, err := w.Store.RevokeFamilies(ctx, f, now, ev)
	if n > 0 {
		w.a.sync(ctx)
	}
	return n, err
}

func (w *watched) RevokeConsent(ctx context.Context, tenantID, userID, clientID string, now time.Time, ev store.Event) (int, error) {
	n, err := w.Store.RevokeConsent(ctx, tenantID, userID, clientID, now, ev)
	if n > 0 {
		w.a.sync(ctx) // the client's sessions for the user ended
	}
	return n, err
}

func (w *watched) UpdateFamilyByToken(ctx context.Context, digest string, fn func(*store.RefreshFamily, int64) (string, *store.Event, error)) (*store.RefreshFamily, error) {
	revoked := false
	f, err := w.Store.UpdateFamilyByToken(ctx, digest, func(f *store.RefreshFamily, gen int64) (string, *store.Event, error) {
		was := !f.RevokedAt.IsZero()
		next, ev, err := fn(f, gen)
		revoked = !was && !f.RevokedAt.IsZero()
		return next, ev, err
	})
	if err == nil && revoked {
		w.a.sync(ctx)
	}
	return f, err
}

func (w *watched) RedeemAuthCode(ctx context.Context, digest string, now time.Time, fam *store.RefreshFamily, tokenDigest string, ev, reuseEv store.Event) error {
	err := w.Store.RedeemAuthCode(ctx, digest, now, fam, tokenDigest, ev, reuseEv)
	if errors.Is(err, store.ErrReused) {
		w.a.sync(ctx) // the first redemption's family was revoked
	}
	return err
}

func (w *watched) RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time, ev store.Event) (*store.APIKey, error) {
	k, err := w.Store.RevokeAPIKey(ctx, tenantID, id, at, ev)
	if err == nil {
		w.a.ForgetAPIKey(id)
		w.a.sync(ctx) // its sessions ended
	}
	return k, err
}

func (w *watched) RevokePAT(ctx context.Context, tenantID, userID, id string, at time.Time, ev store.Event) (*store.PAT, error) {
	p, err := w.Store.RevokePAT(ctx, tenantID, userID, id, at, ev)
	if err == nil {
		w.a.ForgetPAT(p.Digest)
	}
	return p, err
}

// Changes to users, groups and roles change what users may do: the cached
// answers go (all of them: a group or a role touches many users).

func (w *watched) UpdateUser(ctx context.Context, id string, mutate func(*store.User) error, ev store.Event) (*store.User, error) {
	u, err := w.Store.UpdateUser(ctx, id, mutate, ev)
	w.a.ForgetUsers()
	return u, err
}

func (w *watched) DeleteUser(ctx context.Context, id string, ev store.Event) error {
	err := w.Store.DeleteUser(ctx, id, ev)
	w.a.ForgetUsers()
	return err
}

func (w *watched) SetUsersAPIEnabled(ctx context.Context, tenantID string, ids []string, enabled bool, ev store.Event) error {
	err := w.Store.SetUsersAPIEnabled(ctx, tenantID, ids, enabled, ev)
	w.a.ForgetUsers()
	return err
}

func (w *watched) UpdateGroup(ctx context.Context, id string, mutate func(*store.Group) error, ev store.Event) (*store.Group, error) {
	g, err := w.Store.UpdateGroup(ctx, id, mutate, ev)
	w.a.ForgetUsers()
	return g, err
}

func (w *watched) DeleteGroup(ctx context.Context, id string, ev store.Event) error {
	err := w.Store.DeleteGroup(ctx, id, ev)
	w.a.ForgetUsers()
	return err
}

func (w *watched) AddGroupMember(ctx context.Context, groupID, userID string, ev store.Event) error {
	err := w.Store.AddGroupMember(ctx, groupID, userID, ev)
	w.a.ForgetUsers()
	return err
}

func (w *watched) RemoveGroupMember(ctx context.Context, groupID, userID string, ev store.Event) error {
	err := w.Store.RemoveGroupMember(ctx, groupID, userID, ev)
	w.a.ForgetUsers()
	return err
}

func (w *watched) CreateRole(ctx context.Context, r *store.Role, ev store.Event) error {
	err := w.Store.CreateRole(ctx, r, ev)
	w.a.ForgetUsers()
	return err
}

func (w *watched) DeleteRole(ctx context.Context, tenantID, name string, ev store.Event) error {
	err := w.Store.DeleteRole(ctx, tenantID, name, ev)
	w.a.ForgetUsers()
	return err
}

// Tenant changes (mode, budgets, deletion) reach the cached tenants, and
// through a deletion every user.

func (w *watched) UpdateTenant(ctx context.Context, id string, mutate func(*store.Tenant) error, ev store.Event) (*store.Tenant, error) {
	t, err := w.Store.UpdateTenant(ctx, id, mutate, ev)
	w.a.ForgetTenants()
	return t, err
}

func (w *watched) DeleteTenant(ctx context.Context, id string, ev store.Event) error {
	err := w.Store.DeleteTenant(ctx, id, ev)
	w.a.ForgetTenants()
	w.a.ForgetUsers()
	return err
}

// Unwrap returns the store w watches (store.Unwrap).
func (w *watched) Unwrap() store.Store { return w.Store }
