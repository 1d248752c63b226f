package pats

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

var ctx = context.Background()

// fakeUsers is a hand-written fake: Access decides the API-access rule.
type fakeUsers struct {
	store  store.Users
	Access bool
}

func (f *fakeUsers) Get(ctx context.Context, tenantID, userID string) (*store.User, error) {
	u, err := f.store.GetUser(ctx, userID)
	if err == nil && u.TenantID != tenantID {
		return nil, store.ErrNotFound
	}
	return u, err
}

func (f *fakeUsers) HasAPIAccess(context.Context, *store.User) (bool, error) { return f.Access, nil }

type fixture struct {
	svc   *Service
	store store.Store
	users *fakeUsers
	clock time.Time
}

const tenant, user = "tn_acme", "usr_ada"

func newFixture(t *testing.T, settings store.TenantSettings) *fixture {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s, users: &fakeUsers{store: s, Access: true}, clock: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	if err := s.CreateTenant(ctx, &store.Tenant{ID: tenant, Name: "acme", Settings: settings, CreatedAt: f.clock, UpdatedAt: f.clock}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{ID: user, TenantID: tenant, Email: "ada@example.com", CreatedAt: f.clock, UpdatedAt: f.clock}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	f.svc = &Service{Store: s, Users: f.users, Now: func() time.Time { return f.clock }}
	return f
}

func ev() store.Event {
	return store.Event{Action: "pat.create", Actor: "user:test", Outcome: "success"}
}

func mustExpiry(t *testing.T, s string) Expiry {
	t.Helper()
	e, err := ParseExpiry(s)
	if err != nil {
		t.Fatalf("ParseExpiry(%q): %v", s, err)
	}
	return e
}

func TestCreateExpiries(t *testing.T) {
	f := newFixture(t, store.TenantSettings{})
	cases := []struct {
		name, expiry string
		want         time.Time
	}{
		{"7 days", "7d", f.clock.Add(7 * 24 * time.Hour)},
		{"30 days", "30d", f.clock.Add(30 * 24 * time.Hour)},
		{"90 days", "90d", f.clock.Add(90 * 24 * time.Hour)},
		{"custom date works through that day", "2026-04-15", time.Date(2026, 4, 16, 0, 0, 0, 0, time.UTC)},
		{"custom instant", "2026-05-01T12:00:00+02:00", time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)},
		// The last date there is lasts to its last second, not into year
		// 10000, which no JSON encoder can write.
		{"the last day", "9999-12-31", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"the last instant", "9999-12-31T23:59:59Z", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"never", "never", time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.svc.Create(ctx, tenant, user, c.name, mustExpiry(t, c.expiry), nil, ev())
			if err != nil {
				t.Fatal(err)
			}
			if !got.PAT.ExpiresAt.Equal(c.want) {
				t.Fatalf("expires %v, want %v", got.PAT.ExpiresAt, c.want)
			}
			if _, err := json.Marshal(got.PAT.ExpiresAt); err != nil {
				t.Fatalf("the expiry cannot be written: %v", err)
			}
			if secret.Parse(got.Token, secret.PersonalAccessToken) != nil || !strings.HasPrefix(got.Token, got.PAT.Prefix) ||
				len(got.PAT.Prefix) != PrefixLen {
				t.Fatalf("token %q, prefix %q", got.Token, got.PAT.Prefix)
			}
			stored, err := f.store.GetPATByDigest(ctx, secret.Hash(got.Token).String())
			if err != nil || stored.ID != got.PAT.ID || stored.Name != c.name {
				t.Fatalf("stored = %+v, %v", stored, err)
			}
		})
	}
	for _, bad := range []string{"", "8d", "tomorrow", "2026-13-01"} {
		if _, err := ParseExpiry(bad); err == nil {
			t.Errorf("ParseExpiry(%q) accepted", bad)
		}
	}
}

func TestCreateRefusals(t *testing.T) {
	f := newFixture(t, store.TenantSettings{PATForbidNever: true})
	capped := newFixture(t, store.TenantSettings{PATMaxLifetime: 30 * 24 * time.Hour})
	cases := []struct {
		name    string
		f       *fixture
		tokName string
		expiry  Expiry
		problem string
	}{
		{"never forbidden", f, "ci", Expiry{Never: true}, "never expire"},
		{"never beyond a max lifetime", capped, "ci", Expiry{Never: true}, "never expire"},
		{"over the max lifetime", capped, "ci", mustExpiry(t, "90d"), "at most 30 days"},
		{"date in the past", f, "ci", mustExpiry(t, "2026-02-01"), "in the future"},
		{"no expiry", f, "ci", Expiry{}, "expiry is required"},
		{"no name", f, "  ", mustExpiry(t, "7d"), "name"},
		{"control characters", f, "a\x00b", mustExpiry(t, "7d"), "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.f.svc.Create(ctx, tenant, user, c.tokName, c.expiry, nil, ev())
			var ie *InvalidError
			if !errors.As(err, &ie) || !strings.Contains(ie.Error(), c.problem) {
				t.Fatalf("err = %v, want a problem mentioning %q", err, c.problem)
			}
		})
	}
	if _, err := capped.svc.Create(ctx, tenant, user, "ok", mustExpiry(t, "30d"), nil, ev()); err != nil {
		t.Fatalf("30d under a 30-day cap: %v", err)
	}

	f.users.Access = false
	if _, err := f.svc.Create(ctx, tenant, user, "ci", mustExpiry(t, "7d"), nil, ev()); !errors.Is(err, ErrNoAPIAccess) {
		t.Fatalf("without API access: %v", err)
	}
	if _, err := f.svc.Create(ctx, "tn_other", user, "ci", mustExpiry(t, "7d"), nil, ev()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
}

func TestLimit(t *testing.T) {
	for _, c := range []struct {
		name  string
		max   int
		limit int
	}{{"default", 0, store.DefaultPATMaxActive}, {"tenant setting", 3, 3}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, store.TenantSettings{PATMaxActive: c.max})
			var first *Created
			for i := range c.limit {
				got, err := f.svc.Create(ctx, tenant, user, "t", mustExpiry(t, "7d"), nil, ev())
				if err != nil {
					t.Fatalf("token %d: %v", i+1, err)
				}
				if first == nil {
					first = got
				}
			}
			_, err := f.svc.Create(ctx, tenant, user, "one too many", mustExpiry(t, "7d"), nil, ev())
			var le *store.PATLimitError
			if !errors.As(err, &le) || !errors.Is(err, store.ErrLimit) || le.Limit != c.limit {
				t.Fatalf("over the limit: %v", err)
			}
			// Revoking one frees a slot; an expired one does not count.
			if _, err := f.svc.Revoke(ctx, tenant, user, first.PAT.ID, ev()); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Create(ctx, tenant, user, "again", mustExpiry(t, "7d"), nil, ev()); err != nil {
				t.Fatalf("after a revocation: %v", err)
			}
			f.clock = f.clock.Add(8 * 24 * time.Hour)
			if _, err := f.svc.Create(ctx, tenant, user, "later", mustExpiry(t, "7d"), nil, ev()); err != nil {
				t.Fatalf("after the others expired: %v", err)
			}
		})
	}
}

func TestRevokeAndList(t *testing.T) {
	f := newFixture(t, store.TenantSettings{})
	a, _ := f.svc.Create(ctx, tenant, user, "a", mustExpiry(t, "7d"), nil, ev())
	f.clock = f.clock.Add(time.Second)
	b, _ := f.svc.Create(ctx, tenant, user, "b", Expiry{Never: true}, nil, ev())
	if _, err := f.svc.Revoke(ctx, tenant, "usr_other", a.PAT.ID, ev()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another user's token: %v", err)
	}
	if _, err := f.svc.Revoke(ctx, tenant, user, a.PAT.ID, ev()); err != nil {
		t.Fatal(err)
	}
	live, _ := f.svc.List(ctx, tenant, user, false)
	if len(live) != 1 || live[0].ID != b.PAT.ID {
		t.Fatalf("live list = %+v", live)
	}
	all, _ := f.svc.List(ctx, tenant, user, true)
	if len(all) != 2 || all[1].Status(f.clock) != store.PATRevoked {
		t.Fatalf("full list = %+v", all)
	}
	exp, err := f.svc.Expiring(ctx, tenant, 30*24*time.Hour)
	if err != nil || len(exp) != 0 {
		t.Fatalf("expiring = %+v, %v (the 7-day token is revoked, the other never expires)", exp, err)
	}
}

func TestRecordUseBatches(t *testing.T) {
	f := newFixture(t, store.TenantSettings{})
	c, _ := f.svc.Create(ctx, tenant, user, "a", mustExpiry(t, "7d"), nil, ev())
	at := f.clock.Add(time.Minute)
	f.svc.RecordUse(c.PAT.ID, "192.0.2.7", at)
	f.svc.RecordUse(c.PAT.ID, "192.0.2.1", at.Add(-time.Second)) // older: ignored
	if len(f.svc.usage) != 1 {
		t.Fatalf("%d pending uses, want one per token", len(f.svc.usage))
	}
	if err := f.svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := f.store.GetPATByDigest(ctx, c.PAT.Digest)
	if !got.LastUsedAt.Equal(at) || got.LastUsedIP != "192.0.2.7" {
		t.Fatalf("after flush: %+v", got)
	}
}
