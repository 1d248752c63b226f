package clients_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

var ctx = context.Background()

type fixture struct {
	svc   *clients.Service
	store store.Store
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s, now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	f.svc = &clients.Service{Store: s, Now: func() time.Time { return f.now }, CacheTTL: time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := s.CreateTenant(ctx, &store.Tenant{ID: "t1", Name: "acme"}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) create(t *testing.T, id string) string {
	t.Helper()
	sec, err := f.svc.Create(ctx, &store.Client{ID: id, TenantID: "t1", Name: id}, store.Event{})
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	sec := f.create(t, "c1")
	if r, err := f.svc.Authenticate(ctx, "c1", sec); err != nil || r.Client.ID != "c1" || r.Tenant.Name != "acme" {
		t.Fatalf("good secret: %v", err)
	}
	for name, tc := range map[string]struct {
		id, secret string
		want       error
	}{
		"wrong secret":     {"c1", secret.New(secret.ClientSecret), clients.ErrBadSecret},
		"unknown client":   {"c2", sec, clients.ErrUnknown},
		"malformed secret": {"c1", sec + "x", clients.ErrMalformed},
		"malformed id":     {"c 1", sec, clients.ErrMalformed},
		"wrong kind":       {"c1", secret.New(secret.PersonalAccessToken), clients.ErrMalformed},
	} {
		if _, err := f.svc.Authenticate(ctx, tc.id, tc.secret); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// Rotation keeps the old secret valid until it expires or is retired; the
// clock decides expiry.
func TestRotationWithExpiry(t *testing.T) {
	f := newFixture(t)
	old := f.create(t, "c1")
	fresh, c, err := f.svc.Rotate(ctx, "c1", time.Hour, store.Event{})
	if err != nil || len(c.Secrets) != 2 || c.Secrets[0].ExpiresAt == nil || !c.Secrets[0].ExpiresAt.Equal(f.now.Add(time.Hour)) {
		t.Fatalf("rotate: %+v %v", c, err)
	}
	for _, s := range []string{old, fresh} {
		if _, err := f.svc.Authenticate(ctx, "c1", s); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
	}
	f.now = f.now.Add(time.Hour)
	f.svc.Invalidate("c1")
	if _, err := f.svc.Authenticate(ctx, "c1", old); !errors.Is(err, clients.ErrBadSecret) {
		t.Fatalf("old secret after expiry: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, "c1", fresh); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	// The expired secret is dropped at the next rotation, so there is room.
	if _, c, err := f.svc.Rotate(ctx, "c1", 0, store.Event{}); err != nil || len(c.Secrets) != 2 {
		t.Fatalf("rotate after expiry: %+v %v", c, err)
	}
	if _, _, err := f.svc.Rotate(ctx, "c1", 0, store.Event{}); !errors.Is(err, clients.ErrTooManySecrets) {
		t.Fatalf("third secret: %v", err)
	}
}

// The cache serves a client for its TTL, remembers unknown ids, and a
// change through the service is seen at once.
func TestCache(t *testing.T) {
	f := newFixture(t)
	sec := f.create(t, "c1")
	if _, err := f.svc.Get(ctx, "ghost"); !errors.Is(err, clients.ErrUnknown) {
		t.Fatal(err)
	}
	// Created behind the service's back: the negative entry holds until the TTL.
	if err := f.store.CreateClient(ctx, &store.Client{ID: "ghost", TenantID: "t1", Name: "g", TokenFormat: "jwt"}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Get(ctx, "ghost"); !errors.Is(err, clients.ErrUnknown) {
		t.Fatal("negative entry not cached")
	}
	f.now = f.now.Add(time.Second)
	if _, err := f.svc.Get(ctx, "ghost"); err != nil {
		t.Fatalf("after the TTL: %v", err)
	}
	if err := f.svc.Delete(ctx, "c1", store.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "c1", sec); !errors.Is(err, clients.ErrUnknown) {
		t.Fatalf("deleted client: %v", err)
	}
}

// Usage counts survive a failed flush and are written by the next one.
func TestUsageFlush(t *testing.T) {
	f := newFixture(t)
	f.create(t, "c1")
	f.svc.RecordIssued("c1", f.now)
	f.svc.RecordIssued("c1", f.now.Add(time.Second))
	f.svc.Store = &failingUsage{Store: f.store} // the store is down for one flush
	if err := f.svc.FlushUsage(ctx); err == nil {
		t.Fatal("flush did not fail")
	}
	f.svc.Store = f.store
	if err := f.svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := f.store.GetClient(ctx, "c1")
	if c.TokensIssued != 2 || !c.LastUsedAt.Equal(f.now.Add(time.Second)) {
		t.Fatalf("usage %d, %v", c.TokensIssued, c.LastUsedAt)
	}
}

// Requests and rate-limit refusals are counted by the hour; a refusal
// does not count as use.
func TestUsageByHour(t *testing.T) {
	f := newFixture(t)
	f.create(t, "c1")
	h := f.now.UTC().Truncate(time.Hour)
	f.svc.RecordRequest("c1", h.Add(10*time.Minute))
	f.svc.RecordRequest("c1", h.Add(70*time.Minute))
	f.svc.RecordRejected("c1", h.Add(71*time.Minute))
	f.svc.RecordRejected("c1", h.Add(72*time.Minute))
	if err := f.svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := f.store.ClientUsageSince(ctx, "t1", h)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Requests != 1 || rows[0].Rejected != 0 || !rows[1].Hour.Equal(h.Add(time.Hour)) ||
		rows[1].Requests != 1 || rows[1].Rejected != 2 {
		t.Fatalf("hourly rows %+v; want 1 request in the first hour, 1 request and 2 refusals in the next", rows)
	}
	if c, _ := f.store.GetClient(ctx, "c1"); c.GatewayRequests != 2 || !c.LastUsedAt.Equal(h.Add(70*time.Minute)) {
		t.Fatalf("totals %d requests, last used %v; want 2 and the last request let through", c.GatewayRequests, c.LastUsedAt)
	}
}

type failingUsage struct{ store.Store }

func (failingUsage) AddClientUsage(context.Context, []store.ClientUsage) error {
	return errors.New("store down")
}

// Each budget comes from the client, else its tenant, else the server
// default, independently of the other.
func TestBudgets(t *testing.T) {
	q := func(n int) store.Quota { return store.Quota{Count: n, Per: time.Minute} }
	def := store.RateLimits{Read: q(600), Write: q(200)}
	for _, tc := range []struct {
		name           string
		client, tenant store.RateLimits
		want           store.RateLimits
	}{
		{"server default", store.RateLimits{}, store.RateLimits{}, def},
		{"tenant", store.RateLimits{}, store.RateLimits{Read: q(50), Write: q(5)}, store.RateLimits{Read: q(50), Write: q(5)}},
		{"client over tenant", store.RateLimits{Read: q(7), Write: q(3)}, store.RateLimits{Read: q(50), Write: q(5)}, store.RateLimits{Read: q(7), Write: q(3)}},
		{"field by field", store.RateLimits{Write: q(3)}, store.RateLimits{Read: q(50)}, store.RateLimits{Read: q(50), Write: q(3)}},
		{"client over default", store.RateLimits{Read: q(9000)}, store.RateLimits{}, store.RateLimits{Read: q(9000), Write: q(200)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &clients.Resolved{Client: &store.Client{RateLimits: tc.client}, Tenant: &store.Tenant{Settings: store.TenantSettings{RateLimits: tc.tenant}}}
			if got := r.Budgets(def); got != tc.want {
				t.Fatalf("Budgets = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// outage is a store whose client reads fail as an unreachable database's do.
type outage struct {
	store.Store
	down bool
}

func (o *outage) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if o.down {
		return nil, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	}
	return o.Store.GetClient(ctx, id)
}

// While the store is unreachable, a client cached before the outage keeps
// working for StaleIfUnavailable past its load, then the outage shows; a
// client never cached gets the store's error, never "unknown".
func TestStaleClientDuringOutage(t *testing.T) {
	f := newFixture(t)
	sec := f.create(t, "c1")
	f.create(t, "c2")
	o := &outage{Store: f.store}
	f.svc.Store = o
	if _, err := f.svc.Authenticate(ctx, "c1", sec); err != nil {
		t.Fatal(err)
	}
	o.down = true
	f.now = f.now.Add(time.Minute) // past the cache TTL
	if r, err := f.svc.Get(ctx, "c1"); err != nil || r.Client.ID != "c1" {
		t.Fatalf("cached client during an outage: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, "c1", secret.New(secret.ClientSecret)); !errors.Is(err, clients.ErrBadSecret) {
		t.Fatalf("a stale copy must still check secrets: %v", err)
	}
	if _, err := f.svc.Get(ctx, "c2"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("uncached client during an outage: %v, want ErrUnavailable", err)
	}
	f.now = f.now.Add(clients.StaleIfUnavailable)
	if _, err := f.svc.Get(ctx, "c1"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a copy older than StaleIfUnavailable: %v, want ErrUnavailable", err)
	}
	o.down = false
	if r, err := f.svc.Get(ctx, "c1"); err != nil || r.Client.ID != "c1" {
		t.Fatalf("after the outage: %v", err)
	}
}
