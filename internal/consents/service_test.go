package consents

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

var ctx = context.Background()

func TestCovers(t *testing.T) {
	g := &store.ConsentGrant{Scopes: []string{"email", "openid", "submissions:read"}}
	cases := []struct {
		name   string
		grant  *store.ConsentGrant
		scopes []string
		want   bool
	}{
		{"the same scopes", g, []string{"openid", "email", "submissions:read"}, true},
		{"fewer scopes", g, []string{"submissions:read"}, true},
		{"no scopes", g, nil, true},
		{"one more scope", g, []string{"openid", "submissions:write"}, false},
		{"no grant", nil, []string{"openid"}, false},
		{"no grant, no scopes", nil, nil, false},
		{"gatehouse:tokens, even when recorded", &store.ConsentGrant{Scopes: []string{"gatehouse:tokens", "openid"}}, []string{"gatehouse:tokens"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Covers(c.grant, c.scopes); got != c.want {
				t.Errorf("Covers(%v, %v) = %v, want %v", c.grant, c.scopes, got, c.want)
			}
		})
	}
}

type fixture struct {
	svc   *Service
	store store.Store
	clock time.Time
}

const tenant, user = "tn_acme", "usr_ada"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s, clock: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	if err := s.CreateTenant(ctx, &store.Tenant{ID: tenant, Name: "acme", CreatedAt: f.clock, UpdatedAt: f.clock}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{ID: user, TenantID: tenant, Email: "ada@example.com", CreatedAt: f.clock, UpdatedAt: f.clock}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"gc_sync", "gc_export"} {
		c := &store.Client{ID: id, TenantID: tenant, Name: "app " + id, TokenFormat: store.FormatJWT, CreatedAt: f.clock, UpdatedAt: f.clock}
		if err := s.CreateClient(ctx, c, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	f.svc = &Service{Store: s, Now: func() time.Time { return f.clock }}
	return f
}

func event(action store.Action) store.Event {
	return store.Event{Action: action, Actor: "user:" + user, Outcome: "success", TenantID: tenant}
}

// Consent is remembered as given, widened by later consents, and never
// for gatehouse:tokens.
func TestRecordAndRemembered(t *testing.T) {
	f := newFixture(t)
	remembered := func(client string, scopes ...string) bool {
		t.Helper()
		ok, err := f.svc.Remembered(ctx, tenant, user, client, scopes)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if remembered("gc_sync") {
		t.Fatal("remembered before any consent")
	}
	if err := f.svc.Record(ctx, tenant, user, "gc_sync", []string{"openid", "submissions:read", "gatehouse:tokens"}, event(audit.OAuthConsent)); err != nil {
		t.Fatal(err)
	}
	f.clock = f.clock.Add(time.Hour)
	if err := f.svc.Record(ctx, tenant, user, "gc_sync", []string{"email"}, event(audit.OAuthConsent)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		client string
		scopes []string
		want   bool
	}{
		{"what was approved", "gc_sync", []string{"openid", "submissions:read"}, true},
		{"the union of two consents", "gc_sync", []string{"email", "submissions:read"}, true},
		{"a wider request", "gc_sync", []string{"openid", "submissions:write"}, false},
		{"gatehouse:tokens, though approved", "gc_sync", []string{"gatehouse:tokens"}, false},
		{"another client", "gc_export", []string{"openid"}, false},
	}
	for _, c := range cases {
		if got := remembered(c.client, c.scopes...); got != c.want {
			t.Errorf("%s: Remembered = %v, want %v", c.name, got, c.want)
		}
	}
	g, err := f.store.GetConsent(ctx, tenant, user, "gc_sync")
	if err != nil || fmt.Sprint(g.Scopes) != "[email openid submissions:read]" || !g.UpdatedAt.Equal(f.clock) || !g.CreatedAt.Equal(f.clock.Add(-time.Hour)) {
		t.Fatalf("stored grant %+v, %v", g, err)
	}
	evs, _ := f.store.ListEvents(ctx, store.EventQuery{TenantID: tenant, Action: string(audit.OAuthConsent)})
	if len(evs) != 2 || evs[0].Target != "gc_sync" {
		t.Fatalf("consent events %+v", evs)
	}
}

func TestListAndRevoke(t *testing.T) {
	f := newFixture(t)
	for _, c := range []string{"gc_sync", "gc_export"} {
		f.clock = f.clock.Add(time.Minute)
		if err := f.svc.Record(ctx, tenant, user, c, []string{"openid"}, event(audit.OAuthConsent)); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := f.svc.List(ctx, tenant, user)
	if err != nil || len(gs) != 2 || gs[0].ClientID != "gc_export" || gs[0].ClientName != "app gc_export" || gs[1].ClientName != "app gc_sync" {
		t.Fatalf("List = %+v, %v", gs, err)
	}

	ev := event(audit.OAuthConsentRevoke)
	ev.Detail = map[string]any{"by": "test"}
	if n, err := f.svc.Revoke(ctx, tenant, user, "gc_sync", ev); err != nil || n != 0 {
		t.Fatalf("Revoke = %d, %v", n, err)
	}
	if len(ev.Detail) != 1 {
		t.Errorf("Revoke changed the caller's detail: %v", ev.Detail)
	}
	var nf *store.NotFoundError
	if _, err := f.svc.Revoke(ctx, tenant, user, "gc_sync", event(audit.OAuthConsentRevoke)); !errors.As(err, &nf) || nf.Kind != "consent" {
		t.Fatalf("second Revoke: %v, want a missing consent", err)
	}
	evs, _ := f.store.ListEvents(ctx, store.EventQuery{TenantID: tenant, Action: string(audit.OAuthConsentRevoke)})
	if len(evs) != 1 || evs[0].Target != "gc_sync" || evs[0].Detail["user"] != user || evs[0].Detail["by"] != "test" {
		t.Fatalf("revoke events %+v", evs)
	}
	if gs, _ := f.svc.List(ctx, tenant, user); len(gs) != 1 || gs[0].ClientID != "gc_export" {
		t.Fatalf("after revoking: %+v", gs)
	}
}
