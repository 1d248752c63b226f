package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	tokens "github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// upstream is a test API behind the gateway that records what it was sent.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
	body []string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, r)
		u.body = append(u.body, string(b))
		u.mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/slow"):
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
			return
		case strings.HasSuffix(r.URL.Path, "/big"):
			w.Header().Set("Content-Type", "application/octet-stream")
			chunk := strings.Repeat("x", 64<<10)
			for range 64 { // 4 MiB, streamed
				io.WriteString(w, chunk)
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("RateLimit", `"upstream";r=1;t=1`) // the gateway's headers win
		json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "query": r.URL.RawQuery})
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream saw nothing")
	}
	return u.seen[len(u.seen)-1], u.body[len(u.body)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// deadAddr is a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func writeRoutes(t *testing.T, dir, routes string) string {
	t.Helper()
	path := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(path, []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// gatewayRoutes is the routes file of these tests.
func gatewayRoutes(up, dead string) string {
	return fmt.Sprintf(`
routes:
  - name: api
    prefix: /api/{tenant}
    upstream: %[1]s/svc
    read_scope: api:read
    write_scope: api:write
    timeout: 300ms
    max_body_bytes: 1024
  - name: programs
    prefix: /external/company
    upstream: %[1]s
    read_scope: api:read
    versions:
      default: "1.2"
      available:
        - {version: "1.0", removed: true}
        - {version: "1.1", deprecated: "2026-01-01T00:00:00Z", sunset: "2027-06-30T00:00:00Z"}
        - {version: "1.2"}
  - name: exports
    prefix: /exports/{tenant}
    upstream: %[1]s
    read_scope: api:read
    write_scope: api:write
    rate_limits: {read: "2/1m"}
  - name: billing
    prefix: /billing
    upstream: %[1]s
    read_scope: api:read
    audiences: ["https://billing.example"]
  - name: down
    prefix: /down
    upstream: http://%[2]s
    read_scope: api:read
`, up, dead)
}

// startGateway starts Gatehouse with the test routes in front of a fresh
// upstream, and a client of tenant acme with the given scopes.
func startGateway(t *testing.T, db string, scopes []string, mutate func(*config.Config)) (*apptest.Server, *upstream, *admin.Client) {
	t.Helper()
	up := newUpstream(t)
	routes := writeRoutes(t, t.TempDir(), gatewayRoutes(up.URL, deadAddr(t)))
	s := apptest.Start(t, db, func(c *config.Config) {
		c.Routes = routes
		if mutate != nil {
			mutate(c)
		}
	})
	c := setup(t, s, "acme", admin.ClientInput{Scopes: &scopes})
	return s, up, c
}

func call(t *testing.T, s *apptest.Server, method, path, bearer string, body io.Reader, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return do(t, s, req)
}

func TestGatewayForwardsIdentityNotToken(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s, up, c := startGateway(t, db(t), []string{"api:read", "api:write"}, nil)
		tok := token(t, s, c, nil)

		r := call(t, s, "GET", "/api/acme/items?page=2&q=a%20b", tok, nil,
			"X-Gatehouse-Tenant", "evil", "x-gatehouse-subject", "admin", "X-GATEHOUSE-AUTH", "super")
		if r.Status != 200 {
			t.Fatalf("GET through the gateway: %d %s", r.Status, r.Body)
		}
		if r.JSON["path"] != "/svc/api/acme/items" || r.JSON["query"] != "page=2&q=a%20b" {
			t.Errorf("upstream saw %s", r.Body)
		}
		in, _ := up.last(t)
		for h, want := range map[string]string{
			"X-Gatehouse-Subject": c.ClientID, "X-Gatehouse-Tenant": "acme", "X-Gatehouse-Client": c.ClientID,
			"X-Gatehouse-Scopes": "api:read api:write", "X-Gatehouse-Auth": "client_credentials",
		} {
			if got := in.Header.Values(h); len(got) != 1 || got[0] != want {
				t.Errorf("upstream header %s = %q, want exactly %q", h, got, want)
			}
		}
		for name, vals := range in.Header {
			for _, v := range vals {
				if strings.Contains(v, tok) || strings.Contains(v, tok[len(tok)-20:]) {
					t.Errorf("the caller's token reached the upstream in %s", name)
				}
			}
		}
		if in.Header.Get("Authorization") != "" {
			t.Error("the Authorization header reached the upstream")
		}
		if in.Header.Get("X-Forwarded-For") == "" {
			t.Error("no X-Forwarded-For for the upstream")
		}
		if got := r.Header.Get("RateLimit-Policy"); got != `"read";q=600;w=60, "write";q=200;w=60` {
			t.Errorf("RateLimit-Policy = %q", got)
		}
		if got := r.Header.Values("RateLimit"); len(got) != 1 || got[0] != `"read";r=599;t=1` {
			t.Errorf("RateLimit = %q: want the gateway's only", got)
		}

		// A write streams its body through.
		r = call(t, s, "POST", "/api/acme/items", tok, strings.NewReader(`{"title":"x"}`), "Content-Type", "application/json")
		if r.Status != 200 {
			t.Fatalf("POST: %d %s", r.Status, r.Body)
		}
		if _, body := up.last(t); body != `{"title":"x"}` {
			t.Errorf("upstream got body %q", body)
		}
		if got := r.Header.Get("RateLimit"); got != `"write";r=199;t=1` {
			t.Errorf("RateLimit after a write = %q", got)
		}

		// Opaque tokens work the same way.
		opaque := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read"}, TokenFormat: ptr("opaque")})
		if r := call(t, s, "GET", "/api/acme/items", token(t, s, opaque, nil), nil); r.Status != 200 {
			t.Errorf("opaque token: %d %s", r.Status, r.Body)
		}

		// Usage: both calls counted, batched into the store.
		waitFor(t, func() bool {
			got, err := s.Admin.GetClient(ctx, "acme", c.ClientID)
			return err == nil && got.GatewayRequests == 2 && got.LastUsedAt != nil
		})
	})
}

func TestGatewayRefusals(t *testing.T) {
	s, up, c := startGateway(t, apptest.SQLite(t), []string{"api:read"}, nil)
	tok := token(t, s, c, nil)
	other := setup(t, s, "globex", admin.ClientInput{Scopes: &[]string{"api:read"}})
	revoked := token(t, s, c, nil)
	if r := postForm(t, s, "/oauth2/revoke", map[string][]string{"token": {revoked}}, c.ClientID, c.ClientSecret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	expired := expiredToken(t, s, c)
	gone := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read"}})
	goneTok := token(t, s, gone, nil)
	if err := s.Admin.DeleteClient(ctx, "acme", gone.ClientID); err != nil {
		t.Fatal(err)
	}

	realm := `Bearer realm="` + s.URL + `"`
	for _, tc := range []struct {
		name, method, path, bearer string
		hdr                        []string
		status                     int
		code, challenge            string // challenge: the whole WWW-Authenticate, or a prefix ending in '…'
	}{
		{"no credentials", "GET", "/api/acme/items", "", nil, 401, "missing_token", realm},
		{"basic scheme", "GET", "/api/acme/items", "", []string{"Authorization", "Basic YTpi"}, 401, "missing_token", realm},
		{"malformed", "GET", "/api/acme/items", "a b", nil, 401, "invalid_token", realm + `, error="invalid_token", error_description="the access token is malformed"`},
		{"garbage", "GET", "/api/acme/items", "eyJhbGciOiJub25lIn0.e30.", nil, 401, "invalid_token", realm + `, error="invalid_token", error_description="the access token is invalid"`},
		{"unknown opaque", "GET", "/api/acme/items", "gate_at_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil, 401, "invalid_token", realm + `, error="invalid_token"…`},
		{"revoked", "GET", "/api/acme/items", revoked, nil, 401, "invalid_token", realm + `, error="invalid_token", error_description="the access token was revoked"`},
		{"expired", "GET", "/api/acme/items", expired, nil, 401, "invalid_token", realm + `, error="invalid_token", error_description="the access token expired"`},
		{"deleted client", "GET", "/api/acme/items", goneTok, nil, 401, "invalid_token", realm + `, error="invalid_token"…`},
		{"token in query", "GET", "/api/acme/items?access_token=" + tok, "", nil, 400, "invalid_request", realm + `, error="invalid_request"…`},
		{"two headers", "GET", "/api/acme/items", tok, []string{"Authorization", "Bearer " + tok}, 400, "invalid_request", realm + `, error="invalid_request"…`},
		{"other tenant", "GET", "/api/globex/items", tok, nil, 403, "insufficient_scope", realm + `, error="insufficient_scope", error_description="the access token does not cover tenant 'globex'"`},
		{"tenant case", "GET", "/api/Acme/items", tok, nil, 403, "insufficient_scope", realm + `, error="insufficient_scope"…`},
		{"no write scope", "DELETE", "/api/acme/items/1", tok, nil, 403, "insufficient_scope", realm + `, error="insufficient_scope", error_description="the access token lacks the scope api:write", scope="api:write"`},
		{"other's token", "GET", "/api/acme/items", token(t, s, other, nil), nil, 403, "insufficient_scope", realm + `, error="insufficient_scope"…`},
		{"wrong audience", "GET", "/billing/x", tok, nil, 401, "invalid_token", realm + `, error="invalid_token", error_description="the access token is not meant for this API (audience)"`},
		{"odd method", "TRACE", "/api/acme/items", tok, nil, 405, "invalid_request", ""},
		{"read-only route", "POST", "/external/company/programs", tok, nil, 405, "invalid_request", ""},
		{"no route", "GET", "/nothing/here", tok, nil, 404, "not_found", ""},
		{"removed version", "GET", "/external/company/v1.0/programs", tok, nil, 410, "version_removed", ""},
		{"upstream down", "GET", "/down/x", tok, nil, 502, "upstream_unavailable", ""},
		{"upstream slow", "GET", "/api/acme/slow", tok, nil, 504, "upstream_timeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			r := call(t, s, tc.method, tc.path, tc.bearer, nil, tc.hdr...)
			if r.Status != tc.status || r.JSON["error"] != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
			}
			got := r.Header.Get("WWW-Authenticate")
			if want, prefix := strings.CutSuffix(tc.challenge, "…"); prefix && !strings.HasPrefix(got, want) || !prefix && got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if tc.status < 500 && up.count() != before {
				t.Error("a refused request reached the upstream")
			}
		})
	}

	r := call(t, s, "GET", "/external/company/v1.0/programs", tok, nil)
	if r.JSON["current_version"] != "1.2" || !strings.Contains(r.JSON["error_description"].(string), "1.2") {
		t.Errorf("410 body must name the current version: %s", r.Body)
	}
	r = call(t, s, "TRACE", "/api/acme/items", tok, nil)
	if r.Header.Get("Allow") != "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE" {
		t.Errorf("405 Allow = %q", r.Header.Get("Allow"))
	}
}

// expiredToken mints a token for c that expired a minute ago, as the
// server would have an hour and a minute earlier.
func expiredToken(t *testing.T, s *apptest.Server, c *admin.Client) string {
	t.Helper()
	ts := *s.Tokens
	ts.Now = func() time.Time { return time.Now().Add(-61 * time.Minute) }
	ten, err := s.Admin.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ts.Mint(ctx, tokens.Request{ClientID: c.ClientID, TenantID: ten.ID, Tenant: "acme", Orgs: []string{"acme"},
		Subject: c.ClientID, Audience: []string{s.URL}, Scope: "api:read", Auth: "client_credentials", TTL: time.Hour, Format: "jwt"})
	if err != nil {
		t.Fatal(err)
	}
	return m.Token
}

func TestGatewayVersions(t *testing.T) {
	s, _, c := startGateway(t, apptest.SQLite(t), []string{"api:read"}, nil)
	tok := token(t, s, c, nil)
	for path, want := range map[string]string{
		"/external/company/programs":      "/external/company/v1.2/programs",
		"/external/company/v1.2/programs": "/external/company/v1.2/programs",
		"/external/company/v1.1/programs": "/external/company/v1.1/programs",
	} {
		r := call(t, s, "GET", path, tok, nil)
		if r.Status != 200 || r.JSON["path"] != want {
			t.Errorf("%s: %d %s, want the upstream to see %s", path, r.Status, r.Body, want)
		}
		deprecated := strings.Contains(path, "v1.1")
		if got := r.Header.Get("Deprecation"); deprecated != (got == "@1767225600") || !deprecated && got != "" {
			t.Errorf("%s: Deprecation = %q", path, got)
		}
		if got := r.Header.Get("Sunset"); deprecated != (got == "Wed, 30 Jun 2027 00:00:00 GMT") {
			t.Errorf("%s: Sunset = %q", path, got)
		}
	}
}

func TestGatewayStreamsAndBoundsBodies(t *testing.T) {
	s, _, c := startGateway(t, apptest.SQLite(t), []string{"api:read", "api:write"}, nil)
	tok := token(t, s, c, nil)
	r := call(t, s, "GET", "/api/acme/big", tok, nil)
	if r.Status != 200 || len(r.Body) != 4<<20 {
		t.Errorf("large download: %d, %d bytes", r.Status, len(r.Body))
	}
	// Declared too large: refused before anything is sent upstream.
	r = call(t, s, "POST", "/api/acme/items", tok, strings.NewReader(strings.Repeat("a", 2000)))
	if r.Status != 413 || r.JSON["error"] != "invalid_request" {
		t.Errorf("oversized body: %d %s", r.Status, r.Body)
	}
	// Chunked, no length: cut off at the limit.
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte(strings.Repeat("a", 4000))); pw.Close() }()
	r = call(t, s, "POST", "/api/acme/items", tok, pr)
	if r.Status != 413 {
		t.Errorf("oversized chunked body: %d %s", r.Status, r.Body)
	}
}

func TestGatewayRateLimits(t *testing.T) {
	s, up, c := startGateway(t, apptest.SQLite(t), []string{"api:read", "api:write"}, nil)
	// A client override: 3 writes a minute.
	if _, err := s.Admin.UpdateClient(ctx, "acme", c.ClientID, admin.ClientInput{
		RateLimits: &admin.RateLimitsInput{Write: &admin.Quota{Count: 3, Per: 60}}}); err != nil {
		t.Fatal(err)
	}
	tok := token(t, s, c, nil)
	waitFor(t, func() bool {
		return call(t, s, "GET", "/api/acme/items", tok, nil).Header.Get("RateLimit-Policy") == `"read";q=600;w=60, "write";q=3;w=60`
	})
	for i := range 3 {
		if r := call(t, s, "POST", "/api/acme/items", tok, strings.NewReader("{}")); r.Status != 200 {
			t.Fatalf("write %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	before := up.count()
	r := call(t, s, "POST", "/api/acme/items", tok, strings.NewReader("{}"))
	if r.Status != 429 || r.JSON["error"] != "too_many_requests" {
		t.Fatalf("4th write: %d %s", r.Status, r.Body)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 20 {
		t.Errorf("Retry-After = %q: want whole seconds until a write passes (20 at 3/min)", r.Header.Get("Retry-After"))
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("429 Cache-Control = %q", r.Header.Get("Cache-Control"))
	}
	if !regexp.MustCompile(`^"write";r=0;t=\d+$`).MatchString(r.Header.Get("RateLimit")) {
		t.Errorf("429 RateLimit = %q", r.Header.Get("RateLimit"))
	}
	if up.count() != before {
		t.Error("a limited request reached the upstream")
	}
	// Reads have their own budget.
	if r := call(t, s, "GET", "/api/acme/items", tok, nil); r.Status != 200 {
		t.Errorf("read after the write budget is spent: %d", r.Status)
	}

	// A route's own budget: 2 reads a minute on /exports, apart from /api.
	for i := range 2 {
		if r := call(t, s, "GET", "/exports/acme/x", tok, nil); r.Status != 200 {
			t.Fatalf("export read %d: %d", i+1, r.Status)
		}
	}
	if r := call(t, s, "GET", "/exports/acme/x", tok, nil); r.Status != 429 || r.Header.Get("RateLimit-Policy") != `"read";q=2;w=60, "write";q=3;w=60` {
		t.Errorf("route budget: %d %q", r.Status, r.Header.Get("RateLimit-Policy"))
	}
	if r := call(t, s, "GET", "/api/acme/items", tok, nil); r.Status != 200 {
		t.Errorf("the route budget must not spend the client's: %d", r.Status)
	}
}

func TestGatewayReloadsRoutes(t *testing.T) {
	s, up, c := startGateway(t, apptest.SQLite(t), []string{"api:read"}, nil)
	tok := token(t, s, c, nil)
	if r := call(t, s, "GET", "/v2/things", tok, nil); r.Status != 404 {
		t.Fatalf("before reload: %d", r.Status)
	}
	writeRoutes(t, filepath.Dir(s.Config.Routes), gatewayRoutes(up.URL, deadAddr(t))+fmt.Sprintf(`
  - name: v2
    prefix: /v2
    upstream: %s
    read_scope: api:read
`, up.URL))
	if err := s.ReloadRoutes(); err != nil {
		t.Fatal(err)
	}
	if r := call(t, s, "GET", "/v2/things", tok, nil); r.Status != 200 {
		t.Fatalf("after reload: %d %s", r.Status, r.Body)
	}
	// A broken file is refused and the routes in force stay.
	writeRoutes(t, filepath.Dir(s.Config.Routes), "routes: [{name: v2}]")
	if err := s.ReloadRoutes(); err == nil {
		t.Fatal("a broken routes file was accepted")
	}
	if r := call(t, s, "GET", "/v2/things", tok, nil); r.Status != 200 {
		t.Errorf("after a failed reload: %d", r.Status)
	}
}

// redisURL is the test machine's Redis; the tests that need it skip
// without it.
func redisURL(t *testing.T) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		t.Skip("no Redis on 127.0.0.1:6379")
	}
	conn.Close()
	return "redis://127.0.0.1:6379/0"
}

func TestGatewaySharedBudgetThroughRedis(t *testing.T) {
	rurl := redisURL(t)
	db := apptest.SQLite(t)
	if pgtest.ServerURL() != "" {
		db = pgtest.URL(t)
	} else {
		t.Skip("two replicas need PostgreSQL (GATEHOUSE_TEST_POSTGRES)")
	}
	a, _, _ := startGateway(t, db, []string{"api:read"}, func(c *config.Config) { c.Redis = rurl })
	b := apptest.Start(t, db, func(cfg *config.Config) {
		cfg.MasterKey, cfg.Issuer, cfg.Routes, cfg.Redis = a.Config.MasterKey, a.URL, a.Config.Routes, rurl
	})
	c := setup(t, a, "acme", admin.ClientInput{Scopes: &[]string{"api:read"},
		RateLimits: &admin.RateLimitsInput{Read: &admin.Quota{Count: 5, Per: 60}}})
	tok := token(t, a, c, nil)
	passed := 0
	for i := range 10 {
		s := a
		if i%2 == 1 {
			s = b
		}
		switch r := call(t, s, "GET", "/api/acme/items", tok, nil); r.Status {
		case 200:
			passed++
		case 429:
		default:
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	}
	if passed != 5 {
		t.Errorf("%d of 10 reads alternating over two replicas passed: want the shared budget of 5", passed)
	}
	for _, s := range []*apptest.Server{a, b} {
		if r := call(t, s, "GET", "/api/acme/items", tok, nil); r.Status != 429 {
			t.Errorf("after the shared budget is spent: %d", r.Status)
		}
		if r := call(t, s, "GET", "/readyz", "", nil); r.JSON["redis"] != "ok" {
			t.Errorf("readyz: %s", r.Body)
		}
	}
}

func TestGatewayWhenRedisIsDown(t *testing.T) {
	dead := "redis://" + deadAddr(t) + "/0"
	// Fail open (the default): per-replica budgets, and /readyz says so.
	s, _, c := startGateway(t, apptest.SQLite(t), []string{"api:read"}, func(c *config.Config) { c.Redis = dead })
	tok := token(t, s, c, nil)
	if r := call(t, s, "GET", "/api/acme/items", tok, nil); r.Status != 200 || r.Header.Get("RateLimit") != `"read";r=599;t=1` {
		t.Errorf("fail-open: %d %q", r.Status, r.Header.Get("RateLimit"))
	}
	if r := call(t, s, "GET", "/readyz", "", nil); r.Status != 200 || !strings.HasPrefix(r.JSON["redis"].(string), "unreachable") {
		t.Errorf("readyz while Redis is down (fail-open): %d %s", r.Status, r.Body)
	}
	metrics := adminReq(t, s, "GET", "/metrics", "", "", "")
	if !strings.Contains(string(metrics.Body), "gatehouse_redis_up 0") {
		t.Error("gatehouse_redis_up should be 0")
	}

	// Fail closed: 503 and not ready.
	s, _, c = startGateway(t, apptest.SQLite(t), []string{"api:read"}, func(c *config.Config) { c.Redis, c.RedisFailClosed = dead, true })
	tok = token(t, s, c, nil)
	if r := call(t, s, "GET", "/api/acme/items", tok, nil); r.Status != 503 || r.JSON["error"] != "temporarily_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Errorf("fail-closed: %d %s", r.Status, r.Body)
	}
	if r := call(t, s, "GET", "/readyz", "", nil); r.Status != 503 {
		t.Errorf("readyz while Redis is down (fail-closed): %d %s", r.Status, r.Body)
	}
}

func TestSignedFileLinks(t *testing.T) {
	s, up, _ := startGateway(t, apptest.SQLite(t), []string{"api:read"}, nil)
	link, err := s.Admin.SignLink(ctx, "/api/acme/files/42.pdf?disposition=inline", "user:ada", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link.URL, s.URL+"/api/acme/files/42.pdf?") || time.Until(link.ExpiresAt) > 10*time.Minute {
		t.Fatalf("link %+v", link)
	}
	get := func(u string) response {
		req, _ := http.NewRequest("GET", u, nil)
		return do(t, s, req)
	}
	r := get(link.URL)
	if r.Status != 200 {
		t.Fatalf("GET the signed link: %d %s", r.Status, r.Body)
	}
	in, _ := up.last(t)
	if r.Header.Get("Cache-Control") != "private, no-store" {
		t.Errorf("a linked file may be kept by shared caches: Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	if in.Header.Get("X-Gatehouse-Subject") != "user:ada" || in.Header.Get("X-Gatehouse-Auth") != "signed_link" ||
		in.Header.Get("X-Gatehouse-Tenant") != "acme" || in.URL.RawQuery != "disposition=inline" {
		t.Errorf("upstream saw %v ?%s", in.Header, in.URL.RawQuery)
	}

	tamper := map[string]string{
		"another path":   strings.Replace(link.URL, "42.pdf", "43.pdf", 1),
		"another tenant": strings.Replace(link.URL, "/acme/", "/globex/", 1),
		"longer life":    regexp.MustCompile(`gh_exp=\d+`).ReplaceAllString(link.URL, "gh_exp=9999999999"),
		"other subject":  strings.Replace(link.URL, "gh_sub=user%3Aada", "gh_sub=user%3Aeve", 1),
		"other query":    strings.Replace(link.URL, "disposition=inline", "disposition=attachment", 1),
		"extra query":    link.URL + "&x=1",
		"unknown key":    regexp.MustCompile(`gh_kid=[^&]+`).ReplaceAllString(link.URL, "gh_kid=nope"),
	}
	for name, u := range tamper {
		if u == link.URL {
			t.Fatalf("%s: the tampering changed nothing", name)
		}
		if r := get(u); r.Status != 403 || r.JSON["error"] != "invalid_link" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	// Without its signature a link is no credential at all.
	if r := get(regexp.MustCompile(`&?gh_sig=[^&]+`).ReplaceAllString(link.URL, "")); r.Status != 401 {
		t.Errorf("unsigned link: %d %s", r.Status, r.Body)
	}
	req, _ := http.NewRequest("POST", link.URL, nil)
	if r := do(t, s, req); r.Status != 403 || !strings.Contains(r.JSON["error_description"].(string), "GET only") {
		t.Errorf("POST to a signed link: %d %s", r.Status, r.Body)
	}

	// Expiry: a link signed by the same keys an hour and a minute ago.
	old := *s.Gateway.Links
	old.Now = func() time.Time { return time.Now().Add(-61 * time.Minute) }
	stale, _, err := old.Sign("/api/acme/files/42.pdf", "user:ada", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := get(stale); r.Status != 403 || r.JSON["error_description"] != "the link expired" {
		t.Errorf("expired link: %d %s", r.Status, r.Body)
	}

	// Links survive a key rotation (the old key still verifies).
	if _, err := s.Admin.RotateKey(ctx, admin.RotateKeyInput{Immediate: true}); err != nil {
		t.Fatal(err)
	}
	if r := get(link.URL); r.Status != 200 {
		t.Errorf("link after a key rotation: %d %s", r.Status, r.Body)
	}

	for name, in := range map[string]admin.LinkInput{
		"too long":   {Path: "/api/acme/f", Subject: "u", TTL: 3601},
		"no subject": {Path: "/api/acme/f", Subject: "", TTL: 60},
		"unrouted":   {Path: "/nowhere/f", Subject: "u", TTL: 60},
		"unclean":    {Path: "/api/acme/../x", Subject: "u", TTL: 60},
		"absolute":   {Path: "https://evil.example/api/acme/f", Subject: "u", TTL: 60},
	} {
		body, _ := json.Marshal(in)
		if r := adminReq(t, s, "POST", "/admin/v1/links", s.AdminToken, "application/json", string(body)); r.Status != 400 {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

// A token revoked through one replica is refused by the gateway on another
// once that replica's deny list (JWTs) and token cache (opaque) catch up:
// within --deny-list-refresh, 500 ms by default.
func TestGatewayRevocationReachesEveryReplica(t *testing.T) {
	if pgtest.ServerURL() == "" {
		t.Skip("two replicas need PostgreSQL (GATEHOUSE_TEST_POSTGRES)")
	}
	db := pgtest.URL(t)
	a, _, c := startGateway(t, db, []string{"api:read"}, nil)
	b := apptest.Start(t, db, func(cfg *config.Config) {
		cfg.MasterKey, cfg.Issuer, cfg.Routes = a.Config.MasterKey, a.URL, a.Config.Routes
	})
	opaque := setup(t, a, "acme", admin.ClientInput{Scopes: &[]string{"api:read"}, TokenFormat: ptr("opaque")})
	for name, cl := range map[string]*admin.Client{"jwt": c, "opaque": opaque} {
		tok := token(t, a, cl, nil)
		if r := call(t, b, "GET", "/api/acme/items", tok, nil); r.Status != 200 {
			t.Fatalf("%s: A's token on B: %d %s", name, r.Status, r.Body)
		}
		if r := postForm(t, a, "/oauth2/revoke", map[string][]string{"token": {tok}}, cl.ClientID, cl.ClientSecret); r.Status != 200 {
			t.Fatalf("%s: revoke on A: %d", name, r.Status)
		}
		if r := call(t, a, "GET", "/api/acme/items", tok, nil); r.Status != 401 {
			t.Errorf("%s: on the replica that revoked it: %d", name, r.Status)
		}
		start := time.Now()
		waitFor(t, func() bool {
			r := call(t, b, "GET", "/api/acme/items", tok, nil)
			return r.Status == 401 && r.JSON["error"] == "invalid_token"
		})
		t.Logf("%s: refused on B %v after the revocation on A", name, time.Since(start).Round(time.Millisecond))
	}
}

// Requests shaped to make the upstream read something other than what the
// gateway checked.
func TestGatewayHostileRequests(t *testing.T) {
	s, up, c := startGateway(t, apptest.SQLite(t), []string{"api:read", "api:write"}, func(c *config.Config) {
		c.TrustedProxies = "127.0.0.1/32"
	})
	tok := token(t, s, c, nil)
	for _, path := range []string{
		"/api/acme/%2e%2e/globex/items", "/api/acme/%2E%2E/%2e%2e/billing/x", "/api/acme%2F..%2Fglobex/items",
		"/api/acme/..;/globex/items", "/api/acme/a%5C..%5C..%5Cglobex", "/api/acme/x%00y", "/api/acme/.%3b/x",
	} {
		before := up.count()
		req, err := http.NewRequest("GET", s.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path // sent exactly as written
		req.Header.Set("Authorization", "Bearer "+tok)
		r := do(t, s, req)
		if r.Status != 400 {
			t.Errorf("%s: %d %s, want 400", path, r.Status, r.Body)
		}
		if up.count() != before {
			in, _ := up.last(t)
			t.Errorf("%s reached the upstream as %s", path, in.URL.Path)
		}
	}

	// Upgrades would be tunnels past every later check.
	if r := call(t, s, "GET", "/api/acme/items", tok, nil, "Connection", "Upgrade", "Upgrade", "h2c", "HTTP2-Settings", "AAMAAABkAAQAAP__"); r.Status != 400 {
		t.Errorf("h2c upgrade: %d %s", r.Status, r.Body)
	}

	// Header spellings a CGI-style upstream would fold into the real ones.
	r := call(t, s, "GET", "/api/acme/items", tok, nil,
		"X_Gatehouse_Subject", "admin", "X-Gatehouse_Auth", "super", "X_GATEHOUSE_TENANT", "globex",
		"X_Forwarded_For", "10.0.0.1", "X-Forwarded-Proto", "https")
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	in, _ := up.last(t)
	for name := range in.Header {
		if strings.Contains(name, "_") {
			t.Errorf("upstream got %s: %q", name, in.Header[name])
		}
	}
	if in.Header.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("behind a trusted proxy that says https, X-Forwarded-Proto = %q", in.Header.Get("X-Forwarded-Proto"))
	}

	// Every answer to an authenticated caller names its budgets.
	r = call(t, s, "GET", "/api/globex/items", tok, nil)
	if r.Status != 403 || r.Header.Get("RateLimit-Policy") == "" {
		t.Errorf("403 without RateLimit-Policy: %d %v", r.Status, r.Header)
	}
	// Text a caller chose stays inside RFC 6750's character set.
	r = call(t, s, "GET", "/api/caf%C3%A9/items", tok, nil)
	if got := r.Header.Get("WWW-Authenticate"); r.Status != 403 || !strings.Contains(got, "tenant 'caf?'") {
		t.Errorf("non-ASCII tenant: %d %q", r.Status, got)
	}
}

// An opaque token revoked through a replica is refused there at once, even
// with a verdict cached a moment before.
func TestGatewayOpaqueRevocationIsImmediate(t *testing.T) {
	s, _, _ := startGateway(t, apptest.SQLite(t), []string{"api:read"}, nil)
	c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read"}, TokenFormat: ptr("opaque")})
	tok := token(t, s, c, nil)
	if r := call(t, s, "GET", "/api/acme/items", tok, nil); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if r := postForm(t, s, "/oauth2/revoke", map[string][]string{"token": {tok}}, c.ClientID, c.ClientSecret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if r := call(t, s, "GET", "/api/acme/items", tok, nil); r.Status != 401 || r.JSON["error_description"] != "the access token was revoked" {
		t.Errorf("right after revocation: %d %s", r.Status, r.Body)
	}
}
