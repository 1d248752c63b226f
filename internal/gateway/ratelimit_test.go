package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// On a fake clock: Retry-After is never early (a client that waits exactly
// that long passes) and never needlessly late (a second less is refused),
// and the RateLimit header counts down and refills as GCRA says.
func TestRetryAfterIsExact(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	ctx := context.Background()
	tn := &store.Tenant{Name: "acme"}
	if err := s.Tenants.Create(ctx, tn, store.Event{}); err != nil {
		t.Fatal(err)
	}
	c := &store.Client{ID: secret.NewID("gc"), TenantID: tn.ID, Name: "c", Scopes: []string{"w"}}
	if _, err := s.Clients.Create(ctx, c, store.Event{}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Tokens.Mint(ctx, token.Request{ClientID: c.ID, TenantID: tn.ID, Tenant: "acme", Orgs: []string{"acme"},
		Subject: c.ID, Audience: []string{s.URL}, Scope: "w", Auth: "client_credentials", TTL: time.Hour, Format: store.FormatJWT})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer up.Close()
	tab, err := gateway.Parse([]byte(`routes: [{name: a, prefix: "/api/{tenant}", upstream: "` + up.URL + `", read_scope: w, write_scope: w, rate_limits: {write: "3/1m"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	counts := map[string]int{} // what the usage counters hear, per client and outcome
	var countsMu sync.Mutex
	count := func(what string) func(string, time.Time) {
		return func(id string, _ time.Time) { countsMu.Lock(); counts[id+" "+what]++; countsMu.Unlock() }
	}
	g := &gateway.Gateway{Auth: s.Auth, Limiter: ratelimit.NewLocal(clk.Now), Realm: s.URL, Now: clk.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Used: count("used"), Limited: count("limited")}
	g.Install(tab)
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/acme/things", nil)
		req.Header.Set("Authorization", "Bearer "+m.Token)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		return w
	}
	for i, want := range []string{`"write";r=2;t=20`, `"write";r=1;t=40`, `"write";r=0;t=60`} {
		if w := post(); w.Code != 200 || w.Header().Get("RateLimit") != want {
			t.Fatalf("write %d: %d %q, want 200 %q", i+1, w.Code, w.Header().Get("RateLimit"), want)
		}
	}
	w := post()
	if w.Code != 429 || w.Header().Get("Retry-After") != "20" {
		t.Fatalf("4th write: %d Retry-After %q, want 429 after 20", w.Code, w.Header().Get("Retry-After"))
	}
	clk.Add(19 * time.Second)
	w = post()
	if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); w.Code != 429 || ra != 1 {
		t.Fatalf("19 s later: %d Retry-After %q, want 429 after 1", w.Code, w.Header().Get("Retry-After"))
	}
	clk.Add(time.Second)
	if w := post(); w.Code != 200 {
		t.Fatalf("after waiting Retry-After: %d", w.Code)
	}
	// A whole period later the budget is whole again.
	clk.Add(time.Minute)
	if w := post(); w.Code != 200 || w.Header().Get("RateLimit") != `"write";r=2;t=20` {
		t.Fatalf("a period later: %d %q", w.Code, w.Header().Get("RateLimit"))
	}
	// The integration's usage chart hears of five requests and two refusals.
	if counts[c.ID+" used"] != 5 || counts[c.ID+" limited"] != 2 || len(counts) != 2 {
		t.Fatalf("usage counted %v; want 5 used and 2 limited for %s", counts, c.ID)
	}
}
