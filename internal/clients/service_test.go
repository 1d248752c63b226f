package clients_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// outage is the real store with its client reads counted; while down they
// fail as an unreachable database's do. GetClientFn, when set, answers in
// the store's place.
type outage struct {
	store.Store
	down        bool
	reads       atomic.Int64
	GetClientFn func(ctx context.Context, id string) (*store.Client, error)
}

func (o *outage) GetClient(ctx context.Context, id string) (*store.Client, error) {
	o.reads.Add(1)
	switch {
	case o.down:
		return nil, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	case o.GetClientFn != nil:
		return o.GetClientFn(ctx, id)
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

// A copy is used through an outage until exactly StaleIfUnavailable past
// its load, however long the cache TTL.
func TestStaleBoundary(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Second, 10 * time.Minute} {
		t.Run(ttl.String(), func(t *testing.T) {
			f := newFixture(t)
			f.create(t, "c1")
			o := &outage{Store: f.store}
			f.svc.Store, f.svc.CacheTTL = o, ttl
			// Served while fresh, and while down at least StaleIfUnavailable.
			loaded, limit := f.now, max(ttl, clients.StaleIfUnavailable)
			if _, err := f.svc.Get(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
			o.down = true
			f.now = loaded.Add(limit - time.Nanosecond)
			if _, err := f.svc.Get(ctx, "c1"); err != nil {
				t.Fatalf("just before the limit: %v", err)
			}
			f.now = loaded.Add(limit)
			if _, err := f.svc.Get(ctx, "c1"); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("at the limit: %v, want ErrUnavailable", err)
			}
		})
	}
}

// A flood of unknown ids, past what the cache holds of them, neither
// evicts a known client nor grows the cache without bound.
func TestUnknownFloodKeepsClients(t *testing.T) {
	f := newFixture(t)
	sec := f.create(t, "c1")
	o := &outage{Store: f.store, GetClientFn: func(ctx context.Context, id string) (*store.Client, error) {
		if strings.HasPrefix(id, "junk") {
			return nil, store.ErrNotFound // no SQL: the flood stays fast
		}
		return f.store.GetClient(ctx, id)
	}}
	f.svc.Store = o
	if _, err := f.svc.Authenticate(ctx, "c1", sec); err != nil {
		t.Fatal(err)
	}
	const flood = 60_000 // past the 50,000 at which the old cache wiped everything
	for i := range flood {
		if _, err := f.svc.Get(ctx, fmt.Sprint("junk", i)); !errors.Is(err, clients.ErrUnknown) {
			t.Fatalf("junk id %d: %v", i, err)
		}
	}
	if known, unknown := f.svc.CacheLen(); known != 1 || unknown > clients.MaxUnknown {
		t.Fatalf("cache holds %d clients and %d unknown ids; want 1 and at most %d", known, unknown, clients.MaxUnknown)
	}
	o.reads.Store(0)
	if _, err := f.svc.Authenticate(ctx, "c1", sec); err != nil {
		t.Fatal(err)
	}
	if n := o.reads.Load(); n != 0 {
		t.Fatalf("the known client took %d store reads after the flood; want it served from the cache", n)
	}
}

// Invalidate(id) forgets one client, Invalidate("") every client and
// unknown id; neither leaves a copy for an outage to serve.
func TestInvalidate(t *testing.T) {
	f := newFixture(t)
	f.create(t, "c1")
	f.create(t, "c2")
	o := &outage{Store: f.store}
	f.svc.Store = o
	get := func(id string) error { _, err := f.svc.Get(ctx, id); return err }
	for _, id := range []string{"c1", "c2", "ghost"} {
		get(id)
	}
	reads := func(want int64, what string) {
		t.Helper()
		if n := o.reads.Swap(0); n != want {
			t.Fatalf("%s: %d store reads, want %d", what, n, want)
		}
	}
	reads(3, "first loads")
	f.svc.Invalidate("c1")
	get("c1")
	get("c2")
	reads(1, "after Invalidate(c1)")
	// Created behind the service's back: seen once everything is forgotten.
	if err := f.store.CreateClient(ctx, &store.Client{ID: "ghost", TenantID: "t1", Name: "g", TokenFormat: "jwt"}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	f.svc.Invalidate("")
	for _, id := range []string{"c1", "c2", "ghost"} {
		if err := get(id); err != nil {
			t.Fatalf("%s after Invalidate(\"\"): %v", id, err)
		}
	}
	reads(3, "after Invalidate(\"\")")
	o.down = true
	f.svc.Invalidate("c1")
	if err := get("c1"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("an invalidated client during an outage: %v, want ErrUnavailable", err)
	}
}

// Concurrent lookups of one id share one store read, which outlives the
// first caller's cancelled request.
func TestOneLoadPerID(t *testing.T) {
	f := newFixture(t)
	f.create(t, "c1")
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	o := &outage{Store: f.store, GetClientFn: func(ctx context.Context, id string) (*store.Client, error) {
		once.Do(func() { close(started) })
		<-release
		return f.store.GetClient(ctx, id)
	}}
	f.svc.Store = o
	first, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		c := ctx
		if i == 0 {
			c = first
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Get(c, "c1")
		}()
		if i == 0 {
			<-started
			cancel()
		}
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := o.reads.Load(); n != 1 {
		t.Fatalf("%d store reads for one id, want 1", n)
	}
}
