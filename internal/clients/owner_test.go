package clients_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ownersFn is a hand-written clients.Owners.
type ownersFn func(ctx context.Context, tenantID, userID string) (*store.User, error)

func (f ownersFn) Get(ctx context.Context, tenantID, userID string) (*store.User, error) {
	return f(ctx, tenantID, userID)
}

// users of tenant t1: ada; bob belongs to another tenant.
var someUsers = ownersFn(func(_ context.Context, tenantID, userID string) (*store.User, error) {
	switch {
	case userID == "usr_down":
		return nil, errors.New("store down")
	case userID == "usr_ada" && tenantID == "t1":
		return &store.User{ID: userID, TenantID: tenantID}, nil
	}
	return nil, store.ErrNotFound // unknown, or another tenant's (usr_bob)
})

// A client's owner must be a user of the client's tenant, on create and
// on update; "" means no owner.
func TestOwnerMustBeUserOfTenant(t *testing.T) {
	f := newFixture(t)
	f.svc.Owners = someUsers
	for _, tc := range []struct {
		name, id, owner string
		err, invalid    bool // invalid: an *InvalidError (400), not a failure
	}{
		{"no owner", "c1", "", false, false},
		{"user of the tenant", "c2", "usr_ada", false, false},
		{"unknown user", "c3", "usr_nobody", true, true},
		{"another tenant's user", "c4", "usr_bob", true, true},
		{"not an id", "c5", "usr ada", true, true},
		{"lookup fails", "c6", "usr_down", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Create(ctx, &store.Client{ID: tc.id, TenantID: "t1", Name: tc.id, OwnerUserID: tc.owner}, store.Event{})
			checkOwnerErr(t, "create", err, tc.err, tc.invalid)
			if r, getErr := f.svc.Get(ctx, tc.id); (getErr == nil) == tc.err || (getErr == nil && r.Client.OwnerUserID != tc.owner) {
				t.Fatalf("stored client = %+v, %v", r, getErr)
			}
		})
	}
}

func TestOwnerOnUpdate(t *testing.T) {
	f := newFixture(t)
	f.svc.Owners = someUsers
	f.create(t, "c1")
	set := func(owner string) error {
		_, err := f.svc.Update(ctx, "c1", &clients.Patch{OwnerUserID: &owner}, store.Event{})
		return err
	}
	checkOwnerErr(t, "other tenant's user", set("usr_bob"), true, true)
	checkOwnerErr(t, "user of the tenant", set("usr_ada"), false, false)
	if r, err := f.svc.Get(ctx, "c1"); err != nil || r.Client.OwnerUserID != "usr_ada" {
		t.Fatalf("owner not stored: %+v, %v", r, err)
	}
	checkOwnerErr(t, "clear", set(""), false, false)
	if r, _ := f.svc.Get(ctx, "c1"); r.Client.OwnerUserID != "" {
		t.Fatalf("owner not cleared: %q", r.Client.OwnerUserID)
	}
}

func checkOwnerErr(t *testing.T, what string, err error, wantErr, invalid bool) {
	t.Helper()
	var ie *clients.InvalidError
	if (err != nil) != wantErr || errors.As(err, &ie) != invalid {
		t.Fatalf("%s: err = %v (want error %v, invalid %v)", what, err, wantErr, invalid)
	}
}
