package apikeys_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikeys"
	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

func TestCreateListRevoke(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	ctx := context.Background()
	var tns [2]*store.Tenant
	for i, name := range []string{"acme", "beta"} {
		tns[i] = &store.Tenant{Name: name}
		if err := s.Tenants.Create(ctx, tns[i], store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	email, name := "ada@acme.example", "Ada"
	u, err := s.Users.Create(ctx, tns[0].ID, &users.Patch{Email: &email, Name: &name}, store.Event{})
	if err != nil {
		t.Fatal(err)
	}
	other := &store.Client{ID: secret.NewID("gc"), TenantID: tns[1].ID, Name: "theirs"}
	if _, err := s.Clients.Create(ctx, other, store.Event{}); err != nil {
		t.Fatal(err)
	}
	svc := s.APIKeys
	now := time.Now()
	for name, tc := range map[string]struct {
		in   apikeys.Input
		want string // a problem, or "" for ErrNotFound
	}{
		"no name":               {apikeys.Input{UserID: u.ID}, "name"},
		"both user and client":  {apikeys.Input{Name: "k", UserID: u.ID, ClientID: other.ID}, "exactly one"},
		"neither":               {apikeys.Input{Name: "k"}, "exactly one"},
		"expiry in the past":    {apikeys.Input{Name: "k", UserID: u.ID, ExpiresAt: now.Add(-time.Minute)}, "future"},
		"another tenant client": {apikeys.Input{Name: "k", ClientID: other.ID}, ""},
		"unknown user":          {apikeys.Input{Name: "k", UserID: "usr_nope"}, ""},
	} {
		_, _, err := svc.Create(ctx, tns[0], tc.in, store.Event{})
		var inv *apikeys.InvalidError
		if tc.want != "" && (!errors.As(err, &inv) || !strings.Contains(strings.Join(inv.Problems, "; "), tc.want)) {
			t.Errorf("%s: %v, want a problem about %q", name, err, tc.want)
		}
		if tc.want == "" && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	k, raw, err := svc.Create(ctx, tns[0], apikeys.Input{Name: " backend ", UserID: u.ID}, store.Event{})
	if err != nil || !strings.HasPrefix(raw, k.Prefix) || len(k.Prefix) != apikeys.PrefixLen || k.Name != "backend" ||
		k.Digest != secret.Hash(raw).String() || !k.ExpiresAt.IsZero() {
		t.Fatalf("Create = %+v, %q, %v", k, raw, err)
	}
	if l, err := svc.List(ctx, tns[0].ID); err != nil || len(l) != 1 || l[0].ID != k.ID {
		t.Fatalf("List = %v, %v", l, err)
	}
	if _, err := svc.Revoke(ctx, tns[1].ID, k.ID, store.Event{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking through another tenant: %v", err)
	}
	if got, err := svc.Revoke(ctx, tns[0].ID, k.ID, store.Event{}); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("Revoke = %+v, %v", got, err)
	}
}
