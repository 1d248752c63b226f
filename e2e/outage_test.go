package e2e

// Fault tests: the store and Redis go away under load and come back, and
// Gatehouse must fail fast with machine-readable errors while they are gone
// and recover by itself when they return, leaking nothing.
//
// Neither test touches the machine's shared PostgreSQL or Redis: the
// PostgreSQL outage is a TCP proxy of the test's own that cuts every
// connection and resets new ones, and the Redis outage is a redis-server
// child process of the test's own that is SIGKILLed and started again on
// the same port.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/websession"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// outageClientTimeout is the load client's timeout: the one wall-clock
// bound the outage tests assert is that no request ran into it.
const outageClientTimeout = 10 * time.Second

// ---------------------------------------------------------------------------
// A TCP proxy that can simulate a PostgreSQL restart.

// outageProxy forwards TCP connections to target. While down it has cut
// every connection it carried and resets each new one at once (RST), as a
// client sees a database server that is restarting.
type outageProxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	down      bool
	blackhole atomic.Bool // while set, nothing is forwarded and new connections hang
	conns     map[net.Conn]struct{}

	wg         sync.WaitGroup
	goroutines atomic.Int64 // the proxy's own, left out of the leak check
	accepted   atomic.Int64
	refused    atomic.Int64
}

func startOutageProxy(t *testing.T, target string) *outageProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.spawn(p.serve)
	t.Cleanup(p.Close)
	return p
}

func (p *outageProxy) Addr() string { return p.ln.Addr().String() }

func (p *outageProxy) spawn(fn func()) {
	p.wg.Add(1)
	p.goroutines.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.goroutines.Add(-1)
		fn()
	}()
}

// outageReset closes c with an RST rather than a FIN.
func outageReset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) //nolint:errcheck // best effort
	}
	c.Close()
}

func (p *outageProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			p.refused.Add(1)
			outageReset(c)
			continue
		}
		if p.blackhole.Load() {
			p.mu.Lock()
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			continue
		}
		p.accepted.Add(1)
		p.spawn(func() { p.handle(c) })
	}
}

func (p *outageProxy) handle(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		outageReset(c)
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		outageReset(c)
		outageReset(up)
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, up)
		p.mu.Unlock()
	}()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !p.blackhole.Load() {
				if _, err := dst.Write(buf[:n]); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.Close()
		up.Close()
		done <- struct{}{}
	}
	p.spawn(func() { pipe(up, c) })
	pipe(c, up)
	<-done
}

// SetDown starts (cutting every carried connection) or ends an outage, and
// returns how many connections it cut.
func (p *outageProxy) SetDown(down bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if !down {
		return 0
	}
	n := len(p.conns)
	for c := range p.conns {
		outageReset(c)
	}
	return n / 2
}

// SetBlackhole starts or ends a network partition: while on, bytes are
// dropped and new connections are accepted but never answered; ending it
// resets every connection (they lost bytes).
func (p *outageProxy) SetBlackhole(on bool) {
	p.blackhole.Store(on)
	if !on {
		p.mu.Lock()
		for c := range p.conns {
			outageReset(c)
		}
		p.mu.Unlock()
	}
}

func (p *outageProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// ---------------------------------------------------------------------------
// Load: requests of several kinds, each outcome recorded with its times.

type outageOutcome struct {
	kind       string
	start, end time.Time
	status     int
	code       string // the JSON "error", if any
	json       bool   // the body was a JSON object
	retryAfter string
	body       string
	err        error // the client's own failure (timeout, reset, …)
}

func (o outageOutcome) String() string {
	if o.err != nil {
		return "client error: " + o.err.Error()
	}
	if o.code != "" {
		return fmt.Sprintf("%d %s", o.status, o.code)
	}
	return strconv.Itoa(o.status)
}

// outageProbe is one kind of request and what a healthy answer looks like.
type outageProbe struct {
	kind string
	req  func() *http.Request
	ok   func(status int, body map[string]any) bool
}

func outageSend(cl *http.Client, p outageProbe) outageOutcome {
	o := outageOutcome{kind: p.kind, start: time.Now()}
	resp, err := cl.Do(p.req())
	if err != nil {
		o.end, o.err = time.Now(), err
		return o
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	o.end, o.status, o.body = time.Now(), resp.StatusCode, string(b)
	o.retryAfter = resp.Header.Get("Retry-After")
	var m map[string]any
	if json.Unmarshal(b, &m) == nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		o.json = true
		o.code, _ = m["error"].(string)
	}
	return o
}

func (p outageProbe) healthy(o outageOutcome) bool {
	if o.err != nil {
		return false
	}
	var m map[string]any
	json.Unmarshal([]byte(o.body), &m) //nolint:errcheck // m stays nil
	return p.ok(o.status, m)
}

// outageLoad is the workers outageRunLoad starts, cycling through the
// probes until stop is closed, and what they saw.
type outageLoad struct {
	mu  sync.Mutex
	out []outageOutcome
	wg  sync.WaitGroup
}

func outageRunLoad(cl *http.Client, probes []outageProbe, workers int, pause time.Duration, stop <-chan struct{}) *outageLoad {
	l := &outageLoad{}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				o := outageSend(cl, probes[i%len(probes)])
				l.mu.Lock()
				l.out = append(l.out, o)
				l.mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
			}
		}()
	}
	return l
}

func (l *outageLoad) outcomes() []outageOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.out)
}

// outageTally counts outcomes by their String().
func outageTally(os []outageOutcome) string {
	n := map[string]int{}
	for _, o := range os {
		n[o.String()]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s ×%d", k, n[k])
	}
	return b.String()
}

func outageSlowest(os []outageOutcome) time.Duration {
	var d time.Duration
	for _, o := range os {
		d = max(d, o.end.Sub(o.start))
	}
	return d
}

// outageExpect reports a failed expectation without stopping the test, so
// that every check of a run is reported.
func outageExpect(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
}

// outageGoroutines closes idle keep-alive connections (the test client's,
// and the gateway's to the upstream, from the upstream's side) and returns
// the lowest goroutine count (less the proxy's own) seen within wait,
// stopping early once it is at or under target.
func outageGoroutines(cl *http.Client, up *upstream, p *outageProxy, target int, wait time.Duration) int {
	best := -1
	deadline := time.Now().Add(wait)
	for {
		cl.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		up.CloseClientConnections()
		runtime.GC()
		n := runtime.NumGoroutine()
		if p != nil {
			n -= int(p.goroutines.Load())
		}
		if best < 0 || n < best {
			best = n
		}
		if (target >= 0 && best <= target) || time.Now().After(deadline) {
			return best
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func outageGoroutineDump() string {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 1) //nolint:errcheck // a bytes.Buffer
	s := b.String()
	if len(s) > 20000 {
		s = s[:20000] + "\n…"
	}
	return s
}

// ---------------------------------------------------------------------------
// PostgreSQL.

// outagePoolStats is what the leak check reads of the PostgreSQL store.
type outagePoolStats struct {
	sql                         sql.DBStats
	total, acquired, idle, maxC int32
}

func (p outagePoolStats) String() string {
	return fmt.Sprintf("database/sql open=%d in_use=%d idle=%d wait_count=%d; pgxpool total=%d acquired=%d idle=%d max=%d",
		p.sql.OpenConnections, p.sql.InUse, p.sql.Idle, p.sql.WaitCount, p.total, p.acquired, p.idle, p.maxC)
}

func outageReadPool(t *testing.T, s *apptest.Server) outagePoolStats {
	t.Helper()
	// The store is database/sql over pgx's stdlib adapter over a pgxpool:
	// SQL() is the *sql.DB (promoted from sqlstore.DB), Pool the pgxpool.
	h, ok := store.Unwrap(s.Store).(interface{ SQL() *sql.DB })
	pg, ok2 := store.Unwrap(s.Store).(*postgres.DB)
	if !ok || !ok2 {
		t.Fatalf("the store is a %T, not the PostgreSQL one", s.Store)
	}
	st := pg.Pool.Stat()
	return outagePoolStats{sql: h.SQL().Stats(), total: st.TotalConns(), acquired: st.AcquiredConns(), idle: st.IdleConns(), maxC: st.MaxConns()}
}

// TestOutagePostgres restarts PostgreSQL (as the app sees it) under a
// steady load of token requests, introspections and gateway calls.
//
// While the database is gone, a request that needs it must be answered
// 503 with a JSON error, at once: nothing may wait for the client's
// timeout (a reset connection fails at once; --store-timeout bounds the
// rest), and a JWT of a client known before the outage keeps working.
// /readyz must say 503. When
// the database is back every kind of request must succeed again within a
// bounded number of attempts without restarting Gatehouse, and once the
// load stops the goroutine count must be back near its baseline and the
// pool idle within its maximum. The partition subtest then makes the
// database stop answering without resetting anything (a network
// partition), where only a store timeout can keep requests fast.
func TestOutagePostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startOutageProxy(t, u.Host) // cleaned up after the app stops
	u.Host = proxy.Addr()

	up := newUpstream(t)
	routes := writeRoutes(t, t.TempDir(), `
defaults: {read: "1000000/1m", write: "1000000/1m"}
routes:
  - name: submissions
    prefix: /api/{tenant}/submissions
    upstream: `+up.URL+`
    read_scope: submissions:read
`)
	// A store timeout below the partition subtest's client timeout.
	s := apptest.Start(t, u.String(), func(c *config.Config) { c.Routes, c.StoreTimeout = routes, time.Second })
	cacheTTL := max(s.Config.ClientCacheTTL, s.Config.DenyListRefresh)

	scopes := []string{"submissions:read"}
	jwtClient := setup(t, s, "acme", admin.ClientInput{Scopes: &scopes})
	opaqueClient := setup(t, s, "acme", admin.ClientInput{Scopes: &scopes, TokenFormat: ptr("opaque")})
	jwt := token(t, s, jwtClient, nil)
	opaque := token(t, s, opaqueClient, nil)
	outageUser := patUser(t, s, "acme", "outage@example.com")
	pat := mintPAT(t, s, outageUser, "30d").Token
	// Every other surface, each with a good credential of its own: the
	// admin API, self-service, the console (signed in) and an API-key login
	// (throttle raised so that the load is not refused for itself).
	logins := 100_000
	setTenant(t, s, admin.TenantSettingsInput{APIKeyLoginsPerHour: &logins})
	key, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "outage", UserID: outageUser.ID})
	if err != nil {
		t.Fatal(err)
	}
	browserOf := signedInClient(t, s, "outage@example.com")
	consoleURL, _ := url.Parse(s.URL + "/console/acme/tokens")
	var sessionCookie *http.Cookie
	for _, c := range browserOf.Jar.Cookies(consoleURL) {
		if c.Name == websession.SessionCookie {
			sessionCookie = c
		}
	}

	form := func(path string, v url.Values, user, pass string) func() *http.Request {
		return func() *http.Request {
			req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if user != "" {
				req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
			}
			return req
		}
	}
	get := func(path, bearer string) func() *http.Request {
		return func() *http.Request {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+bearer)
			return req
		}
	}
	is200 := func(status int, _ map[string]any) bool { return status == 200 }
	active := func(status int, m map[string]any) bool { return status == 200 && m["active"] == true }
	probes := []outageProbe{
		{"token", form("/oauth2/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {jwtClient.ClientID}, "client_secret": {jwtClient.ClientSecret}}, "", ""), is200},
		{"introspect-jwt", form("/oauth2/introspect", url.Values{"token": {jwt}}, jwtClient.ClientID, jwtClient.ClientSecret), active},
		{"introspect-pat", form("/oauth2/introspect", url.Values{"token": {pat}}, jwtClient.ClientID, jwtClient.ClientSecret), active},
		{"gateway-pat", get("/api/acme/submissions/1", pat), is200},
		{"gateway-opaque", get("/api/acme/submissions/2", opaque), is200},
		{"gateway-jwt", get("/api/acme/submissions/3", jwt), is200},
		{"admin-api", func() *http.Request {
			req, _ := http.NewRequest("GET", s.AdminURL()+"/admin/v1/tenants/acme/users", nil)
			req.Header.Set("Authorization", "Bearer "+s.AdminToken)
			return req
		}, is200},
		{"self-service", get("/auth/tokens", pat), is200},
		{"console", func() *http.Request {
			req, _ := http.NewRequest("GET", consoleURL.String(), nil)
			req.AddCookie(sessionCookie)
			return req
		}, is200},
		{"api-key-login", func() *http.Request {
			req, _ := http.NewRequest("POST", s.URL+"/auth/login", strings.NewReader(`{"api_key":"`+key.Key+`"}`))
			req.Header.Set("Content-Type", "application/json")
			return req
		}, is200},
	}
	readyz := outageProbe{"readyz", func() *http.Request { req, _ := http.NewRequest("GET", s.URL+"/readyz", nil); return req }, is200}
	withReady := append(slices.Clone(probes), readyz)

	cl := &http.Client{Timeout: outageClientTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer cl.CloseIdleConnections()
	for _, p := range withReady {
		if o := outageSend(cl, p); !p.healthy(o) {
			t.Fatalf("before the outage, %s: %s %s", p.kind, o, o.body)
		}
	}

	// Baseline, with the load's keep-alive connections closed.
	time.Sleep(200 * time.Millisecond)
	baseline := outageGoroutines(cl, up, proxy, -1, time.Second)
	before := outageReadPool(t, s)
	t.Logf("baseline: %d goroutines (the proxy's %d left out); %s", baseline, proxy.goroutines.Load(), before)

	stop := make(chan struct{})
	ld := outageRunLoad(cl, probes, 3, 20*time.Millisecond, stop)
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			close(stop)
			ld.wg.Wait()
		}
	}
	defer stopLoad()

	time.Sleep(time.Second)
	// Reload the introspecting client just before the cut, so that for
	// a while (until --client-cache-ttl) it is still known while PAT
	// lookups (cached for --deny-list-refresh) already need the store.
	s.Clients.Invalidate(jwtClient.ClientID)
	if _, p := outageProbeOf(probes, "introspect-pat"); !p.healthy(outageSend(cl, p)) {
		t.Fatal("introspection just before the outage failed")
	}
	down := time.Now()
	cut := proxy.SetDown(true)
	t.Logf("PostgreSQL down: %d connections cut", cut)
	const outage = 4 * time.Second
	var ready []outageOutcome
	for time.Since(down) < outage {
		time.Sleep(250 * time.Millisecond)
		ready = append(ready, outageSend(cl, readyz))
	}
	back := time.Now()
	proxy.SetDown(false)
	t.Logf("PostgreSQL back after %s (%d connections reset meanwhile)", back.Sub(down).Round(time.Millisecond), proxy.refused.Load())

	// Recovery: one request of each kind until all succeed in a round.
	var recovered time.Time
	rounds := 0
	for rounds < 100 && recovered.IsZero() {
		rounds++
		all := true
		for _, p := range withReady {
			if o := outageSend(cl, p); !p.healthy(o) {
				all = false
			}
		}
		if all {
			recovered = time.Now()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if recovered.IsZero() {
		t.Fatalf("not recovered after %d rounds (%s) without a restart", rounds, time.Since(back).Round(time.Millisecond))
	}
	t.Logf("recovered: every kind of request succeeded in round %d, %s after PostgreSQL came back",
		rounds, recovered.Sub(back).Round(time.Millisecond))
	time.Sleep(time.Second) // more load on the recovered server
	stopLoad()

	all := ld.outcomes()
	for _, o := range all {
		if o.err != nil {
			t.Errorf("%s at +%s: the client gave up (%v): the server must answer, and fast",
				o.kind, o.start.Sub(down).Round(time.Millisecond), o.err)
		}
	}
	for _, o := range ready {
		if o.err != nil {
			t.Errorf("readyz: client error %v", o.err)
		}
	}

	// Phases. While caches are warm (the client cache for client-cache-ttl,
	// PAT lookups for deny-list-refresh) some requests may still pass; after
	// that every request that needs the store must fail.
	var healthy, outageNoDB, recoveredPhase []outageOutcome
	byKind, warm := map[string][]outageOutcome{}, map[string][]outageOutcome{}
	for _, o := range all {
		switch {
		case o.end.Before(down):
			healthy = append(healthy, o)
		case !o.start.Before(down.Add(s.Config.DenyListRefresh+100*time.Millisecond)) &&
			o.end.Before(down.Add(s.Config.ClientCacheTTL-100*time.Millisecond)):
			// Clients still cached; PAT and opaque lookups not.
			warm[o.kind] = append(warm[o.kind], o)
		case !o.start.Before(down.Add(cacheTTL+500*time.Millisecond)) && o.end.Before(back):
			outageNoDB = append(outageNoDB, o)
			byKind[o.kind] = append(byKind[o.kind], o)
		case o.start.After(recovered):
			recoveredPhase = append(recoveredPhase, o)
		}
	}
	t.Logf("load: %d requests; before the outage: %s", len(all), outageTally(healthy))
	for _, p := range probes {
		os := byKind[p.kind]
		t.Logf("during the outage, %-15s %3d requests: %s (slowest %s)", p.kind, len(os), outageTally(os), outageSlowest(os).Round(time.Millisecond))
	}
	for _, p := range probes {
		t.Logf("early in the outage (clients cached, PATs not), %-15s %3d requests: %s", p.kind, len(warm[p.kind]), outageTally(warm[p.kind]))
	}
	t.Logf("/readyz during the outage: %s (slowest %s)", outageTally(ready), outageSlowest(ready).Round(time.Millisecond))
	t.Logf("after recovery: %s (slowest %s)", outageTally(recoveredPhase), outageSlowest(recoveredPhase).Round(time.Millisecond))
	t.Logf("slowest response while down: %s; client timeout %s; --store-timeout %s",
		outageSlowest(append(slices.Clone(outageNoDB), ready...)).Round(time.Millisecond), outageClientTimeout, s.Config.StoreTimeout)

	for _, o := range healthy {
		if _, p := outageProbeOf(probes, o.kind); !p.healthy(o) {
			t.Errorf("before the outage, %s: %s %s", o.kind, o, o.body)
		}
	}
	for _, o := range recoveredPhase {
		if _, p := outageProbeOf(probes, o.kind); !p.healthy(o) {
			t.Errorf("after recovery, %s at +%s: %s %s", o.kind, o.start.Sub(recovered).Round(time.Millisecond), o, o.body)
		}
	}
	if len(ready) == 0 {
		t.Error("no /readyz probe during the outage")
	}
	for _, o := range ready {
		if o.status != 503 || !o.json {
			t.Errorf("/readyz while the store is down: %s %s, want 503 JSON", o, o.body)
			break
		}
	}

	// What each kind must answer while the store is down.
	unavailable := func(o outageOutcome) bool {
		return o.err == nil && o.status == 503 && o.json && o.code == "temporarily_unavailable"
	}
	gatewayUnavailable := func(o outageOutcome) bool { return unavailable(o) && o.retryAfter != "" }
	every := func(os []outageOutcome, f func(outageOutcome) bool) bool {
		if len(os) == 0 {
			return false
		}
		for _, o := range os {
			if !f(o) {
				return false
			}
		}
		return true
	}
	example := func(os []outageOutcome, f func(outageOutcome) bool) string {
		for _, o := range os {
			if !f(o) {
				return fmt.Sprintf(" (e.g. %d %s)", o.status, strings.TrimSpace(o.body))
			}
		}
		return ""
	}
	// A known client (cached before the outage, served stale for
	// clients.StaleIfUnavailable) still gets JWTs, which need no store.
	ok200 := func(o outageOutcome) bool { return o.err == nil && o.status == 200 }
	os := byKind["token"]
	outageExpect(t, every(os, ok200),
		"POST /oauth2/token (client_credentials, JWT) of a client known before the outage answers %s%s, want 200", outageTally(os), example(os, ok200))
	// Introspection checks the store's deny list, and a PAT needs a lookup:
	// no verdict without the store.
	os = byKind["introspect-jwt"]
	outageExpect(t, every(os, unavailable),
		"POST /oauth2/introspect of a JWT while PostgreSQL is down answers %s%s, want 503 temporarily_unavailable", outageTally(os), example(os, unavailable))
	os = byKind["introspect-pat"]
	outageExpect(t, every(os, unavailable),
		"POST /oauth2/introspect of a PAT while PostgreSQL is down answers %s%s, want 503 temporarily_unavailable", outageTally(os), example(os, unavailable))
	// A store error must never pass for a verdict on the token.
	os = append(warm["introspect-pat"], byKind["introspect-pat"]...)
	notDead := func(o outageOutcome) bool {
		return unavailable(o) || (o.err == nil && o.status == 200 && strings.Contains(o.body, `"active":true`))
	}
	outageExpect(t, every(os, notDead),
		"POST /oauth2/introspect of a good PAT while PostgreSQL is down answers %s%s, want 503 temporarily_unavailable, never {\"active\":false}",
		outageTally(os), example(os, notDead))
	os = byKind["gateway-pat"]
	outageExpect(t, every(os, gatewayUnavailable),
		"a gateway call with a PAT while PostgreSQL is down answers %s%s, want 503 temporarily_unavailable with Retry-After", outageTally(os), example(os, gatewayUnavailable))
	// Every other surface answers the same: 503 with Retry-After (the
	// console an HTML page), whoever the caller is.
	for _, kind := range []string{"admin-api", "self-service", "api-key-login"} {
		os = byKind[kind]
		outageExpect(t, every(os, gatewayUnavailable),
			"%s while PostgreSQL is down answers %s%s, want 503 temporarily_unavailable with Retry-After", kind, outageTally(os), example(os, gatewayUnavailable))
	}
	os = byKind["console"]
	consoleUnavailable := func(o outageOutcome) bool { return o.err == nil && o.status == 503 && o.retryAfter != "" }
	outageExpect(t, every(os, consoleUnavailable),
		"the console while PostgreSQL is down answers %s%s, want a 503 page with Retry-After", outageTally(os), example(os, consoleUnavailable))
	// An opaque token seen before the outage is as good as a JWT: its row
	// was read once and is remembered until it expires (revocation is the
	// deny list's, in memory), its client served stale.
	os = byKind["gateway-opaque"]
	outageExpect(t, every(os, ok200),
		"a gateway call with an opaque token seen before the outage, while PostgreSQL is down, answers %s%s, want 200 (docs/gateway.md)", outageTally(os), example(os, ok200))
	// A JWT is verified without the store, its client served stale.
	os = byKind["gateway-jwt"]
	outageExpect(t, every(os, ok200),
		"a gateway call with a JWT while PostgreSQL is down answers %s%s, want 200 (docs/gateway.md)", outageTally(os), example(os, ok200))

	// Leaks: goroutines back near the baseline, the pool idle and within bounds.
	const margin = 10
	after := outageGoroutines(cl, up, proxy, baseline+margin, 5*time.Second)
	t.Logf("goroutines: %d before the outage, %d after (the proxy's own left out; margin %d)", baseline, after, margin)
	if after > baseline+margin {
		t.Errorf("goroutine leak: %d before the outage, %d after\n%s", baseline, after, outageGoroutineDump())
	}
	var ps outagePoolStats
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ps = outageReadPool(t, s)
		if (ps.sql.InUse == 0 && ps.acquired == 0) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("pool after the outage: %s", ps)
	if ps.sql.InUse != 0 || ps.acquired != 0 {
		t.Errorf("connections still in use when idle: %s", ps)
	}
	if ps.sql.OpenConnections > int(ps.maxC) || ps.total > ps.maxC {
		t.Errorf("more connections open than the pool allows: %s", ps)
	}
	// The same app, no restart, still serves; and the stats are not stale.
	if o := outageSend(cl, probes[0]); !probes[0].healthy(o) {
		t.Errorf("token after the checks: %s", o)
	}

	// A network partition instead of a restart: no RST, the database just
	// stops answering. Nothing in Gatehouse may then wait longer than the
	// client does: a short client timeout here, and /readyz's own 2s.
	t.Run("partition", func(t *testing.T) {
		const clientTimeout = 3 * time.Second
		pcl := &http.Client{Timeout: clientTimeout, Transport: &http.Transport{}}
		defer pcl.CloseIdleConnections()
		proxy.SetBlackhole(true)
		healed := false
		heal := func() {
			if !healed {
				healed = true
				proxy.SetBlackhole(false)
			}
		}
		defer heal()
		time.Sleep(cacheTTL + 500*time.Millisecond) // caches expire
		kinds := []string{"token", "introspect-jwt", "gateway-pat", "gateway-jwt"}
		outs := make([]outageOutcome, len(kinds)+1)
		var wg sync.WaitGroup
		for i, k := range kinds {
			wg.Add(1)
			go func() { defer wg.Done(); _, p := outageProbeOf(probes, k); outs[i] = outageSend(pcl, p) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); outs[len(kinds)] = outageSend(pcl, readyz) }()
		wg.Wait()
		// Requests whose callers have given up, still waiting on a client
		// load (the load runs under context.WithoutCancel).
		stuck := strings.Count(outageAllGoroutines(), "clients.(*Service).Get(")
		heal()
		var hung []string
		for _, o := range outs {
			t.Logf("partitioned, %-14s %s in %s %s", o.kind, o, o.end.Sub(o.start).Round(time.Millisecond), strings.TrimSpace(o.body))
			if o.err != nil {
				hung = append(hung, o.kind)
			}
		}
		t.Logf("requests still waiting in clients.Service.Get after their callers gave up: %d", stuck)
		rounds := 0
		for ; rounds < 100; rounds++ {
			all := true
			for _, p := range withReady {
				if o := outageSend(pcl, p); !p.healthy(o) {
					all = false
				}
			}
			if all {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if rounds == 100 {
			t.Fatal("not recovered from the partition after 100 rounds")
		}
		t.Logf("recovered from the partition in round %d", rounds+1)
		if o := outs[len(kinds)]; o.err != nil || o.status != 503 {
			t.Errorf("/readyz while partitioned: %s, want 503 within its own 2s timeout", o)
		}
		outageExpect(t, len(hung) == 0 && stuck == 0,
			"with PostgreSQL partitioned (no RST), %s hung until the client's %s timeout (%d requests still waiting in clients.Service.Get after their callers left): "+
				"--store-timeout (%s) must end every store call first",
			strings.Join(hung, ", "), clientTimeout, stuck, s.Config.StoreTimeout)
		for _, o := range outs[:len(kinds)] {
			want := unavailable
			if o.kind == "token" || o.kind == "gateway-jwt" { // known clients, served stale
				want = ok200
			}
			if !want(o) {
				t.Errorf("partitioned, %s: %s %s", o.kind, o, strings.TrimSpace(o.body))
			}
		}
	})
}

func outageAllGoroutines() string {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 2) //nolint:errcheck // a bytes.Buffer
	return b.String()
}

func outageProbeOf(ps []outageProbe, kind string) (int, outageProbe) {
	for i, p := range ps {
		if p.kind == kind {
			return i, p
		}
	}
	panic("no probe " + kind)
}

// ---------------------------------------------------------------------------
// Redis.

// outageRedis is a redis-server of the test's own.
type outageRedis struct {
	t    *testing.T
	port string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startOutageRedis(t *testing.T) *outageRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	r := &outageRedis{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *outageRedis) URL() string { return "redis://127.0.0.1:" + r.port + "/0" }

func (r *outageRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.cmd, r.done) //nolint:errcheck // killed on purpose
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + r.port, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		select {
		case <-r.done:
			r.t.Fatalf("redis-server on port %s exited at start", r.port)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on port %s does not answer", r.port)
		}
	}
}

// kill SIGKILLs the server and waits for it to be gone.
func (r *outageRedis) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited
	<-r.done
	r.cmd = nil
}

// outageRedisUp reads gatehouse_redis_up from the admin listener's /metrics.
func outageRedisUp(cl *http.Client, s *apptest.Server) string {
	resp, err := cl.Get(s.AdminURL() + "/metrics")
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "gatehouse_redis_up "); ok {
			return v
		}
	}
	return "absent"
}

// TestOutageRedis kills Redis under two Gatehouse servers sharing it, one
// failing open (the default) and one failing closed, then starts it again
// on the same port. Fail-open keeps serving on per-replica budgets (which
// are still enforced), reports gatehouse_redis_up 0 and stays ready;
// fail-closed answers 503 with a JSON error and is not ready. Both recover
// by themselves once Redis is back: budgets are charged in Redis again and
// the gauge is 1.
func TestOutageRedis(t *testing.T) {
	rc := startOutageRedis(t)
	up := newUpstream(t)
	routes := writeRoutes(t, t.TempDir(), `
routes:
  - name: api
    prefix: /api/{tenant}
    upstream: `+up.URL+`
    read_scope: api:read
  - name: tiny
    prefix: /tiny/{tenant}
    upstream: `+up.URL+`
    read_scope: api:read
    rate_limits: {read: "3/1m"}
  - name: meter
    prefix: /meter/{tenant}
    upstream: `+up.URL+`
    read_scope: api:read
    rate_limits: {read: "1000/1h"}
`)
	type replica struct {
		name   string
		closed bool
		s      *apptest.Server
		c      *admin.Client
		tok    string
	}
	var reps []*replica
	for _, closed := range []bool{false, true} {
		s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) {
			c.Routes, c.Redis, c.RedisFailClosed = routes, rc.URL(), closed
		})
		c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read"},
			RateLimits: &admin.RateLimitsInput{Read: &admin.Quota{Count: 1000000, Per: 60}}})
		name := "fail-open"
		if closed {
			name = "fail-closed"
		}
		reps = append(reps, &replica{name: name, closed: closed, s: s, c: c, tok: token(t, s, c, nil)})
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + rc.port, MaxRetries: -1})
	defer rdb.Close()
	// charged makes one call on the 1000/1h route and tells whether its
	// budget is kept in Redis. (A GCRA key lives only until its theoretical
	// arrival time: a 1,000,000/1m budget's key is gone within
	// microseconds, a 1000/1h one's stays seconds per call.)
	var charge func(r *replica) outageOutcome
	charged := func(r *replica) bool {
		if o := charge(r); o.status != 200 {
			return false
		}
		n, err := rdb.Exists(context.Background(), "gatehouse:rl:client:"+r.c.ClientID+"|route=meter|read").Result()
		return err == nil && n == 1
	}

	cl := &http.Client{Timeout: outageClientTimeout, Transport: &http.Transport{}}
	defer cl.CloseIdleConnections()
	gw := func(r *replica, path string) outageProbe {
		return outageProbe{r.name + " " + path, func() *http.Request {
			req, _ := http.NewRequest("GET", r.s.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+r.tok)
			return req
		}, func(status int, _ map[string]any) bool { return status == 200 }}
	}
	charge = func(r *replica) outageOutcome { return outageSend(cl, gw(r, "/meter/acme/x")) }
	ready := func(r *replica) outageOutcome {
		return outageSend(cl, outageProbe{r.name + " readyz", func() *http.Request {
			req, _ := http.NewRequest("GET", r.s.URL+"/readyz", nil)
			return req
		}, nil})
	}
	readyRedis := func(o outageOutcome) string {
		var m map[string]any
		json.Unmarshal([]byte(o.body), &m) //nolint:errcheck // m stays nil
		v, _ := m["redis"].(string)
		return v
	}

	// Before: both serve through Redis.
	for _, r := range reps {
		if o := outageSend(cl, gw(r, "/api/acme/items")); o.status != 200 {
			t.Fatalf("%s before the outage: %s %s", r.name, o, o.body)
		}
		if !charged(r) {
			t.Fatalf("%s: the budget is not in Redis before the outage", r.name)
		}
		if v := outageRedisUp(cl, r.s); v != "1" {
			t.Errorf("%s: gatehouse_redis_up %s before the outage", r.name, v)
		}
		if o := ready(r); o.status != 200 || readyRedis(o) != "ok" {
			t.Errorf("%s: readyz before the outage: %s %s", r.name, o, o.body)
		}
	}

	rc.kill()
	killed := time.Now()
	t.Logf("redis-server on port %s killed (SIGKILL)", rc.port)

	// Down: a steady trickle of calls on both, for a few seconds.
	var seen = map[string][]outageOutcome{}
	for time.Since(killed) < 3*time.Second {
		for _, r := range reps {
			o := outageSend(cl, gw(r, "/api/acme/items"))
			seen[r.name] = append(seen[r.name], o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	open, closed := reps[0], reps[1]
	for _, r := range reps {
		os := seen[r.name]
		t.Logf("%s while Redis is down: %d calls: %s (slowest %s)", r.name, len(os), outageTally(os), outageSlowest(os).Round(time.Millisecond))
		for _, o := range os {
			if o.err != nil {
				t.Errorf("%s: the client gave up (%v): the gateway must answer, and fast", r.name, o.err)
			}
		}
	}
	for _, o := range seen[open.name] {
		if o.status != 200 {
			t.Errorf("fail-open while Redis is down: %s %s, want 200 on per-replica budgets", o, o.body)
			break
		}
	}
	for _, o := range seen[closed.name] {
		if o.status != 503 || !o.json || o.code != "temporarily_unavailable" || o.retryAfter == "" {
			t.Errorf("fail-closed while Redis is down: %s %s (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
				o, o.body, o.retryAfter)
			break
		}
	}
	// The per-replica fallback budgets are still budgets: a route allowing
	// 3 reads a minute lets 3 through, then 429.
	var tiny []outageOutcome
	for range 5 {
		tiny = append(tiny, outageSend(cl, gw(open, "/tiny/acme/x")))
	}
	t.Logf("fail-open, a 3/1m route while Redis is down: %s", outageTally(tiny))
	for i, o := range tiny {
		if want := map[bool]int{true: 200, false: 429}[i < 3]; o.status != want {
			t.Errorf("fail-open, call %d on a 3/1m route while Redis is down: %s, want %d", i+1, o, want)
		}
	}
	for _, r := range reps {
		v := outageRedisUp(cl, r.s)
		o := ready(r)
		t.Logf("%s while Redis is down: gatehouse_redis_up %s, /readyz %s %s (in %s)", r.name, v, o, strings.TrimSpace(o.body),
			o.end.Sub(o.start).Round(time.Millisecond))
		if v != "0" {
			t.Errorf("%s: gatehouse_redis_up %s while Redis is down, want 0", r.name, v)
		}
		if o.err != nil {
			t.Errorf("%s: readyz: %v", r.name, o.err)
		}
		if r.closed {
			if o.status != 503 || !o.json {
				t.Errorf("fail-closed: readyz while Redis is down: %s %s, want 503 JSON", o, o.body)
			}
		} else if o.status != 200 || !strings.HasPrefix(readyRedis(o), "unreachable") {
			t.Errorf("fail-open: readyz while Redis is down: %s %s, want 200 with redis \"unreachable…\"", o, o.body)
		}
	}

	// Back on the same port, empty (no persistence), right after a call
	// that found it down: the limiter then skips Redis for its retry
	// interval (1s) before it probes again.
	for _, r := range reps {
		if o := outageSend(cl, gw(r, "/meter/acme/x")); o.err != nil || outageRedisUp(cl, r.s) != "0" {
			t.Errorf("%s just before Redis comes back: %s, gatehouse_redis_up %s", r.name, o, outageRedisUp(cl, r.s))
		}
	}
	rc.start()
	restarted := time.Now()
	t.Logf("redis-server restarted on port %s after %s", rc.port, restarted.Sub(killed).Round(time.Millisecond))
	for _, r := range reps {
		var last []string
		attempts := 0
		for ; attempts < 100; attempts++ {
			o := outageSend(cl, gw(r, "/api/acme/items"))
			rd := ready(r)
			v := outageRedisUp(cl, r.s)
			last = []string{o.String(), rd.String() + " " + strings.TrimSpace(rd.body), "gatehouse_redis_up " + v}
			if o.status == 200 && rd.status == 200 && readyRedis(rd) == "ok" && v == "1" && charged(r) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if attempts == 100 {
			t.Errorf("%s did not recover within 100 attempts (%s) after Redis came back: last %q",
				r.name, time.Since(restarted).Round(time.Millisecond), last)
			continue
		}
		t.Logf("%s recovered after %d attempts, %s after Redis came back: calls 200, readyz redis ok, gatehouse_redis_up 1, budget charged in Redis",
			r.name, attempts+1, time.Since(restarted).Round(time.Millisecond))
	}
	// Shared budgets again: the 3/1m route's budget lives in the (new,
	// empty) Redis and both of its keys are charged there.
	for i := range 4 {
		o := outageSend(cl, gw(open, "/tiny/acme/x"))
		if want := map[bool]int{true: 200, false: 429}[i < 3]; o.status != want {
			t.Errorf("fail-open, call %d on a 3/1m route after Redis came back: %s, want %d", i+1, o, want)
		}
	}
	n, err := rdb.Exists(context.Background(), "gatehouse:rl:client:"+open.c.ClientID+"|route=tiny|read").Result()
	outageExpect(t, err == nil && n == 1, "the 3/1m route's budget is not in Redis after recovery (exists=%d, %v)", n, err)
	// And a second replica would see it: the budget is the one in Redis,
	// not this replica's fallback (which still has its own 3 spent).
	if err := rdb.Del(context.Background(), "gatehouse:rl:client:"+open.c.ClientID+"|route=tiny|read").Err(); err != nil {
		t.Fatal(err)
	}
	if o := outageSend(cl, gw(open, "/tiny/acme/x")); o.status != 200 {
		t.Errorf("fail-open, after the 3/1m budget was reset in Redis: %s, want 200 (the budget is Redis's)", o)
	}
}
