package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/websession"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// crashGrace is the server's --refresh-grace: a refresh_token-grant client
// whose refresh response was lost (here: to the crash) may retry within it
// and gets the very pair that was committed.
const crashGrace = 30 * time.Second

// crashWorkers hammer the server at once.
const crashWorkers = 4

// TestCrashSafety sends a steady stream of token issuance, revocations,
// API-key session logins, refreshes and logouts, authorization-code
// exchanges, refreshes and revocations, and PAT creations, uses and
// revocations from several goroutines; kills the real `gatehouse serve`
// process with SIGKILL mid-stream; restarts it; and checks that every
// answer the clients received as a success is still true (an issued token
// works, a revoked one stays revoked, a rotated refresh token stays rotated
// and its successor works, a created PAT authenticates, a revoked one does
// not) and that nothing is half-written: the store's rows are consistent
// with each other and with the activity log, and each kind of row grew by
// what was acknowledged plus at most what was in flight. A second round
// ends with a graceful stop (SIGTERM) instead, after which what is batched
// (tokens issued per client, PAT last use, the activity log's stand-alone
// events) must be complete too. Only answers count: a request in flight at
// the kill may or may not have happened, and the checks allow for both.
func TestCrashSafety(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runCrash(t, apptest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		if pgtest.ServerURL() == "" {
			t.Skip("GATEHOUSE_TEST_POSTGRES not set")
		}
		runCrash(t, pgtest.URL(t))
	})
}

func runCrash(t *testing.T, db string) {
	start := time.Now()
	e := newCrashEnv(t, db)

	// Round 1: kill -9 at a random moment of a 1-2 s stream.
	base, issued := e.counts(), e.tokensIssued()
	l1 := e.stream(time.Second+rand.N(time.Second), func() { e.p.Kill() })
	killedAt := time.Now()
	// The store as the crash left it, before anything starts on it again.
	e.checkGrowth("after the kill", base, e.counts(), l1)
	e.consistent("after the kill")
	codes, authorized := e.authorizations()
	t.Run("authorizations are in the activity log after a crash", func(t *testing.T) {
		if codes != authorized {
			t.Errorf("%d authorization codes issued, %d oauth.authorize events", codes, authorized)
		}
	})
	e.p.Restart()
	e.down.Store(false)
	lost := e.usageLost(issued, l1)
	facts := e.verify(l1, killedAt)
	t.Logf("kill -9 round: %s", l1.summary())
	t.Logf("kill -9 round: usage counters behind by %d issued tokens (batched by design); %d of %d authorization codes without their oauth.authorize event",
		lost, codes-authorized, codes)

	// Round 2: the same stream, ended by SIGTERM.
	base, issued = e.counts(), e.tokensIssued()
	l2 := e.stream(500*time.Millisecond+rand.N(500*time.Millisecond), func() { e.p.Stop() })
	stoppedAt := time.Now()
	e.checkGrowth("after the graceful stop", base, e.counts(), l2)
	e.consistent("after the graceful stop")
	if c, a := e.authorizations(); c-a != codes-authorized {
		t.Errorf("after a graceful stop %d authorization codes lack their oauth.authorize event, %d did before", c-a, codes-authorized)
	}
	e.p.Restart()
	e.down.Store(false)
	if lost := e.usageLost(issued, l2); lost != 0 {
		t.Errorf("after a graceful stop the issued-token counters are behind by %d", lost)
	}
	e.checkLastUse(l2)
	facts2 := e.verify(l2, stoppedAt)
	e.recheck("round 1, after the second restart", facts)
	e.consistent("at the end")
	t.Logf("graceful round: %s", l2.summary())
	t.Logf("verified after the restarts: round 1 %s; round 2 %s (%v in all)", facts.summary(), facts2.summary(), time.Since(start).Round(time.Second))
}

// crashEnv is one server process and what the stream uses on it.
type crashEnv struct {
	t    *testing.T
	p    *apptest.Process
	db   string
	hc   *http.Client
	down atomic.Bool // the server is being killed or stopped: failures are expected

	jwtC, opaqueC, codeC *admin.Client
	userID               string
	keyID, apiKey        string
	boot                 string          // the user's PAT for /auth/tokens, never revoked
	session              *http.Cookie    // the user's sign-in, shared by the workers' browsers
	accounted            map[string]bool // PATs a verification has seen
}

func newCrashEnv(t *testing.T, db string) *crashEnv {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	t.Cleanup(up.Close)
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routes, []byte(`
routes:
  - name: submissions
    prefix: /api/{tenant}/submissions
    upstream: `+up.URL+`
    read_scope: submissions:read
    rate_limits: {read: "1000000/1m"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := apptest.StartProcess(t, apptest.ProcessOptions{DB: db,
		Args: []string{"--routes", routes, "--refresh-grace", crashGrace.String()}})
	e := &crashEnv{t: t, p: p, db: db, hc: &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2 * crashWorkers}}}

	if _, err := p.Admin.CreateTenant(ctx, admin.TenantInput{Name: ptr("acme"), Settings: &admin.TenantSettingsInput{
		RefreshSkew: ptr(int64(86400)), APIKeyLoginsPerHour: ptr(100_000), PATMaxActive: ptr(1000)}}); err != nil {
		t.Fatal(err)
	}
	client := func(in admin.ClientInput) *admin.Client {
		c, err := p.Admin.CreateClient(ctx, "acme", in)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.jwtC = client(admin.ClientInput{Name: ptr("jwt"), Scopes: &[]string{"submissions:read"}})
	e.opaqueC = client(admin.ClientInput{Name: ptr("opaque"), Scopes: &[]string{"submissions:read"}, TokenFormat: ptr("opaque")})
	e.codeC = client(admin.ClientInput{Name: ptr("app"), Grants: &[]string{"authorization_code"}, RedirectURIs: &[]string{appCallback},
		Scopes: &[]string{"openid", "submissions:read", "gatehouse:tokens"}})
	u, err := p.Admin.CreateUser(ctx, "acme", admin.UserInput{Email: ptr("ada@acme.example"), Name: ptr("Ada"),
		Password: ptr(userPassword), Roles: &[]string{"program_member"}, APIEnabled: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	e.userID = u.ID
	k, err := p.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "backend", UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.keyID, e.apiKey = k.ID, k.Key

	// The self-service API wants a user's own token: an authorization-code
	// session's with gatehouse:tokens makes the first PAT, which makes and
	// revokes the others.
	b := browser(t)
	r, err := e.authorize(b, "gatehouse:tokens")
	if err != nil || r.status != 200 {
		t.Fatalf("authorization code flow: %v %d %s", err, r.status, r.body)
	}
	r, err = e.call("POST", "/auth/tokens", admin.PersonalTokenInput{Name: "crash test", Expiry: "never"}, crashBearer(r.str("access_token")))
	if err != nil || r.status != 201 {
		t.Fatalf("bootstrap PAT: %v %d %s", err, r.status, r.body)
	}
	e.boot = r.str("token")
	// One sign-in (argon2id) for every worker's browser.
	u0, _ := url.Parse(p.URL)
	for _, c := range b.Jar.Cookies(u0) {
		if c.Name == websession.SessionCookie {
			e.session = c
		}
	}
	if e.session == nil {
		t.Fatal("no session cookie after signing in")
	}
	e.accounted = map[string]bool{}
	return e
}

// browser is a browser already signed in as the user.
func (e *crashEnv) browser() *http.Client {
	b := browser(e.t)
	u, _ := url.Parse(e.p.URL)
	b.Jar.SetCookies(u, []*http.Cookie{{Name: e.session.Name, Value: e.session.Value, Path: "/"}})
	return b
}

// crashResp is an answer of the public listener.
type crashResp struct {
	status int
	body   []byte
	json   map[string]any
}

func (r crashResp) str(k string) string { s, _ := r.json[k].(string); return s }

func crashBearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func crashBasic(c *admin.Client) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret)) }
}

// call sends a request to the public listener: a url.Values body as a form,
// anything else as JSON. A transport error is returned, not fatal: the
// server may be going down.
func (e *crashEnv) call(method, path string, body any, auth func(*http.Request)) (crashResp, error) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.p.URL+path, rd)
	if err != nil {
		return crashResp{}, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return crashResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return crashResp{}, err
	}
	r := crashResp{status: resp.StatusCode, body: b}
	json.Unmarshal(b, &r.json) //nolint:errcheck // not every answer is JSON
	return r, nil
}

// must is call for the verifying side, where the server is up.
func (e *crashEnv) must(method, path string, body any, auth func(*http.Request)) crashResp {
	e.t.Helper()
	r, err := e.call(method, path, body, auth)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// gateway is a read through the gateway with a bearer token.
func (e *crashEnv) gateway(tok string) int {
	e.t.Helper()
	return e.must("GET", "/api/acme/submissions", nil, crashBearer(tok)).status
}

// authorize runs the authorization code flow in the browser b (signing in
// when it has no session yet) and exchanges the code; the answer is the
// token endpoint's.
func (e *crashEnv) authorize(b *http.Client, extraScopes ...string) (crashResp, error) {
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {e.codeC.ClientID}, "redirect_uri": {appCallback}, "state": {"s"},
		"scope": {strings.Join(append([]string{"openid", "submissions:read"}, extraScopes...), " ")}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	resp, err := b.Get(e.p.URL + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		return crashResp{}, err
	}
	// The login page when b has no session, then the consent page unless
	// the user approved as much before (remembered consent): then the
	// redirect comes at once.
	for range 2 {
		if resp.StatusCode != http.StatusOK {
			break
		}
		page, err := crashPage(resp, 200)
		if err != nil {
			return crashResp{}, err
		}
		form := url.Values{"action": {"consent"}, "decision": {"allow"}}
		if strings.Contains(page, `name="password"`) {
			form = url.Values{"action": {"login"}, "email": {"ada@acme.example"}, "password": {userPassword}}
		}
		if resp, err = crashSubmit(b, e.p.URL, page, form); err != nil {
			return crashResp{}, err
		}
	}
	if _, err := crashPage(resp, http.StatusSeeOther); err != nil {
		return crashResp{}, err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return crashResp{}, crashWrongAnswer(fmt.Sprintf("consent redirected to %q", resp.Header.Get("Location")))
	}
	return e.call("POST", "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {appCallback}, "code_verifier": {verifier}}, crashBasic(e.codeC))
}

func crashPage(resp *http.Response, want int) (string, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != want {
		return "", crashWrongAnswer(fmt.Sprintf("authorize page: %d, want %d: %.300s", resp.StatusCode, want, b))
	}
	return string(b), nil
}

// crashWrongAnswer is an answer the server gave that was not the expected one
// (as opposed to no answer at all).
type crashWrongAnswer string

func (w crashWrongAnswer) Error() string { return string(w) }

// crashSubmit posts the page's form: its hidden fields plus extra.
func crashSubmit(b *http.Client, base, page string, extra url.Values) (*http.Response, error) {
	form := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(page, -1) {
		form.Add(m[1], html.UnescapeString(m[2]))
	}
	for k, v := range extra {
		form[k] = v
	}
	return b.PostForm(base+"/oauth2/authorize", form)
}

// The ledger: only what the client was told succeeded.

type crashToken struct {
	client  *admin.Client
	token   string
	revoked bool // /oauth2/revoke answered 200
	unsure  bool // a revocation was in flight when the server went down
}

type crashFamily struct {
	code    bool     // authorization code; else an API-key session
	refresh []string // every refresh token received, oldest first
	access  []string
	ended   bool   // logout (session) or /oauth2/revoke (code) answered success
	pending string // "refresh" or "end" was in flight when the server went down
}

type crashPAT struct {
	id, token string
	revoked   bool
	unsure    bool
	used      bool // authenticated at the gateway during the stream
}

type crashLedger struct {
	tokens   []*crashToken
	families []*crashFamily
	pats     []*crashPAT
	ok       map[string]int // successes per operation
	unknown  map[string]int // outcomes unknown: in flight when the server went down
}

func newCrashLedger() *crashLedger {
	return &crashLedger{ok: map[string]int{}, unknown: map[string]int{}}
}

func (l *crashLedger) merge(o *crashLedger) {
	l.tokens = append(l.tokens, o.tokens...)
	l.families = append(l.families, o.families...)
	l.pats = append(l.pats, o.pats...)
	for k, v := range o.ok {
		l.ok[k] += v
	}
	for k, v := range o.unknown {
		l.unknown[k] += v
	}
}

var crashOps = []string{"issue-jwt", "issue-opaque", "revoke-jwt", "revoke-opaque", "login", "refresh", "logout",
	"authorize", "code-refresh", "code-revoke", "pat-create", "pat-use", "pat-revoke"}

func (l *crashLedger) summary() string {
	var parts []string
	for _, op := range crashOps {
		parts = append(parts, fmt.Sprintf("%s %d", op, l.ok[op]))
	}
	var unk []string
	for _, op := range crashOps {
		if n := l.unknown[op]; n > 0 {
			unk = append(unk, fmt.Sprintf("%s %d", op, n))
		}
	}
	return "succeeded: " + strings.Join(parts, ", ") + "; in flight at the end: " + strings.Join(unk, ", ")
}

// stream runs crashWorkers workers for d, then calls end (which kills or
// stops the server) while they are still sending, and returns what they
// were told. Each worker sends until a request fails, so each has one
// request in flight when the server goes down.
func (e *crashEnv) stream(d time.Duration, end func()) *crashLedger {
	var wg sync.WaitGroup
	ledgers := make([]*crashLedger, crashWorkers)
	for i := range crashWorkers {
		ledgers[i] = newCrashLedger()
		w := &crashWorker{e: e, l: ledgers[i], b: e.browser(), rng: rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))}
		wg.Add(1)
		go func() { defer wg.Done(); w.run() }()
	}
	time.Sleep(d)
	e.down.Store(true)
	ended := make(chan struct{})
	go func() { defer close(ended); end() }()
	wg.Wait()
	// Connections dialled but never used would hold a graceful shutdown
	// for 5 s (net/http waits that long for a first request on them).
	e.hc.CloseIdleConnections()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections() // the browsers' and the admin client's
	<-ended
	all := newCrashLedger()
	for _, l := range ledgers {
		all.merge(l)
	}
	return all
}

type crashWorker struct {
	e   *crashEnv
	l   *crashLedger
	b   *http.Client // a browser with its own sign-in session
	rng *rand.Rand
}

// run does random operations until one gets no answer.
func (w *crashWorker) run() {
	for w.step() {
	}
}

// outcome books an operation's answer: true when it is the wanted status.
// A request without an answer has an unknown outcome; before the server
// goes down that is an error of the test, as is a wrong answer at any
// time (a killed server gives none, a stopping one must answer right).
func (w *crashWorker) outcome(op string, r crashResp, err error, want int) bool {
	if err == nil && r.status == want {
		w.l.ok[op]++
		return true
	}
	w.l.unknown[op]++
	var wrong crashWrongAnswer
	if !w.e.down.Load() || err == nil || errors.As(err, &wrong) {
		w.e.t.Errorf("%s (server going down: %v): %v %d %.300s", op, w.e.down.Load(), err, r.status, r.body)
	}
	return false
}

func crashPick[T any](rng *rand.Rand, all []T, ok func(T) bool) (T, bool) {
	var cands []T
	for _, x := range all {
		if ok(x) {
			cands = append(cands, x)
		}
	}
	if len(cands) == 0 {
		var zero T
		return zero, false
	}
	return cands[rng.IntN(len(cands))], true
}

func (w *crashWorker) step() bool {
	e, l := w.e, w.l
	switch n := w.rng.IntN(100); {
	case n < 25: // client credentials
		c, op := e.jwtC, "issue-jwt"
		if n%2 == 1 {
			c, op = e.opaqueC, "issue-opaque"
		}
		r, err := e.call("POST", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, crashBasic(c))
		if !w.outcome(op, r, err, 200) {
			return false
		}
		l.tokens = append(l.tokens, &crashToken{client: c, token: r.str("access_token")})
	case n < 35: // revocation (RFC 7009)
		tok, ok := crashPick(w.rng, l.tokens, func(t *crashToken) bool { return !t.revoked })
		if !ok {
			return true
		}
		op := "revoke-jwt"
		if tok.client == e.opaqueC {
			op = "revoke-opaque"
		}
		r, err := e.call("POST", "/oauth2/revoke", url.Values{"token": {tok.token}}, crashBasic(tok.client))
		if !w.outcome(op, r, err, 200) {
			tok.unsure = true
			return false
		}
		tok.revoked = true
	case n < 42: // API-key session login
		r, err := e.call("POST", "/auth/login", map[string]string{"api_key": e.apiKey}, nil)
		if !w.outcome("login", r, err, 200) {
			return false
		}
		l.families = append(l.families, &crashFamily{refresh: []string{r.str("refresh_token")}, access: []string{r.str("access_token")}})
	case n < 66: // refresh (sessions below 56, then the refresh_token grant)
		code := n >= 56
		f, ok := crashPick(w.rng, l.families, func(f *crashFamily) bool { return f.code == code && !f.ended })
		if !ok {
			return true
		}
		rt := f.refresh[len(f.refresh)-1]
		var r crashResp
		var err error
		op := "refresh"
		if code {
			op = "code-refresh"
			r, err = e.call("POST", "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, crashBasic(e.codeC))
		} else {
			r, err = e.call("POST", "/auth/refresh", map[string]string{"refresh_token": rt}, nil)
		}
		if !w.outcome(op, r, err, 200) {
			f.pending = "refresh"
			return false
		}
		f.refresh, f.access = append(f.refresh, r.str("refresh_token")), append(f.access, r.str("access_token"))
	case n < 73: // end a session (below 70) or revoke a code family
		code := n >= 70
		f, ok := crashPick(w.rng, l.families, func(f *crashFamily) bool { return f.code == code && !f.ended })
		if !ok {
			return true
		}
		rt := f.refresh[len(f.refresh)-1]
		var r crashResp
		var err error
		op, want := "logout", 204
		if code {
			op, want = "code-revoke", 200
			r, err = e.call("POST", "/oauth2/revoke", url.Values{"token": {rt}}, crashBasic(e.codeC))
		} else {
			r, err = e.call("POST", "/auth/logout", map[string]string{"refresh_token": rt}, nil)
		}
		if !w.outcome(op, r, err, want) {
			f.pending = "end"
			return false
		}
		f.ended = true
	case n < 78: // authorization code flow
		r, err := e.authorize(w.b)
		if !w.outcome("authorize", r, err, 200) {
			return false
		}
		l.families = append(l.families, &crashFamily{code: true, refresh: []string{r.str("refresh_token")}, access: []string{r.str("access_token")}})
	case n < 88: // a PAT, made through the self-service API
		live := 0
		for _, p := range l.pats {
			if !p.revoked {
				live++
			}
		}
		if live >= 100 { // well below the tenant's limit
			return true
		}
		r, err := e.call("POST", "/auth/tokens", admin.PersonalTokenInput{Name: "crash", Expiry: "30d"}, crashBearer(e.boot))
		if !w.outcome("pat-create", r, err, 201) {
			return false
		}
		l.pats = append(l.pats, &crashPAT{id: r.str("id"), token: r.str("token")})
	case n < 94: // a PAT at work
		p, ok := crashPick(w.rng, l.pats, func(p *crashPAT) bool { return !p.revoked })
		if !ok {
			return true
		}
		r, err := e.call("GET", "/api/acme/submissions", nil, crashBearer(p.token))
		if !w.outcome("pat-use", r, err, 200) {
			return false
		}
		p.used = true
	default: // revoke a PAT: by its user or by an admin
		p, ok := crashPick(w.rng, l.pats, func(p *crashPAT) bool { return !p.revoked })
		if !ok {
			return true
		}
		var r crashResp
		var err error
		if n%2 == 0 {
			r, err = e.call("DELETE", "/auth/tokens/"+p.id, nil, crashBearer(e.boot))
		} else {
			r.status = 204
			if err = e.p.Admin.RevokeUserToken(ctx, "acme", e.userID, p.id); err != nil {
				r.status = 0
				var ae *admin.Error
				if errors.As(err, &ae) {
					r.status, r.body, err = ae.Status, []byte(ae.Description), nil
				}
			}
		}
		if !w.outcome("pat-revoke", r, err, 204) {
			p.unsure = true
			return false
		}
		p.revoked = true
	}
	return true
}

// The store, opened directly.

func (e *crashEnv) sqlDB() (*sql.DB, func()) {
	e.t.Helper()
	s, err := app.OpenStore(ctx, e.db)
	if err != nil {
		e.t.Fatalf("open the store: %v", err)
	}
	return store.Unwrap(s).(interface{ SQL() *sql.DB }).SQL(), func() { s.Close() }
}

func (e *crashEnv) count(db *sql.DB, q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// counts are the rows the stream's operations add.
func (e *crashEnv) counts() map[string]int {
	db, done := e.sqlDB()
	defer done()
	c := func(q string, args ...any) int { return e.count(db, q, args...) }
	return map[string]int{
		"session families":         c(`SELECT COUNT(*) FROM refresh_families WHERE api_key_id = $1`, e.keyID),
		"ended session families":   c(`SELECT COUNT(*) FROM refresh_families WHERE api_key_id = $1 AND revoked_at <> 0`, e.keyID),
		"session refresh tokens":   c(`SELECT COUNT(*) FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE f.api_key_id = $1`, e.keyID),
		"code families":            c(`SELECT COUNT(*) FROM refresh_families WHERE client_id = $1`, e.codeC.ClientID),
		"revoked code families":    c(`SELECT COUNT(*) FROM refresh_families WHERE client_id = $1 AND revoked_at <> 0`, e.codeC.ClientID),
		"code refresh tokens":      c(`SELECT COUNT(*) FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE f.client_id = $1`, e.codeC.ClientID),
		"used authorization codes": c(`SELECT COUNT(*) FROM auth_codes WHERE client_id = $1 AND used_at <> 0`, e.codeC.ClientID),
		"PATs":                     c(`SELECT COUNT(*) FROM pats WHERE user_id = $1`, e.userID),
		"revoked PATs":             c(`SELECT COUNT(*) FROM pats WHERE user_id = $1 AND revoked_at <> 0`, e.userID),
		"opaque tokens":            c(`SELECT COUNT(*) FROM opaque_tokens WHERE client_id = $1`, e.opaqueC.ClientID),
		"revoked opaque tokens":    c(`SELECT COUNT(*) FROM opaque_tokens WHERE client_id = $1 AND revoked = $2`, e.opaqueC.ClientID, true),
	}
}

// checkGrowth: each kind of row grew by what the clients were told
// succeeded, plus at most what was in flight (committed, answer lost).
func (e *crashEnv) checkGrowth(when string, before, after map[string]int, l *crashLedger) {
	e.t.Helper()
	for kind, ops := range map[string][]string{
		"session families":         {"login"},
		"ended session families":   {"logout"},
		"session refresh tokens":   {"login", "refresh"},
		"code families":            {"authorize"},
		"revoked code families":    {"code-revoke"},
		"code refresh tokens":      {"authorize", "code-refresh"},
		"used authorization codes": {"authorize"},
		"PATs":                     {"pat-create"},
		"revoked PATs":             {"pat-revoke"},
		"opaque tokens":            {"issue-opaque"},
		"revoked opaque tokens":    {"revoke-opaque"},
	} {
		lo, hi := 0, 0
		for _, op := range ops {
			lo += l.ok[op]
			hi += l.ok[op] + l.unknown[op]
		}
		if got := after[kind] - before[kind]; got < lo || got > hi {
			e.t.Errorf("%s: %d new %s, want %d acknowledged plus at most %d in flight", when, got, kind, lo, hi-lo)
		}
	}
}

// consistent runs the store's cross-row invariants: nothing half-written.
func (e *crashEnv) consistent(when string) {
	e.t.Helper()
	db, done := e.sqlDB()
	defer done()
	for what, q := range map[string]string{
		"refresh tokens of no family": `SELECT COUNT(*) FROM refresh_tokens t
			WHERE NOT EXISTS (SELECT 1 FROM refresh_families f WHERE f.id = t.family_id)`,
		"families whose tokens are not exactly generations 1..current": `SELECT COUNT(*) FROM refresh_families f
			WHERE (SELECT COUNT(*) FROM refresh_tokens t WHERE t.family_id = f.id) <> f.generation
			   OR (SELECT COUNT(DISTINCT t.generation) FROM refresh_tokens t WHERE t.family_id = f.id AND t.generation BETWEEN 1 AND f.generation) <> f.generation`,
		"used authorization codes without their family": `SELECT COUNT(*) FROM auth_codes c
			WHERE c.used_at <> 0 AND NOT EXISTS (SELECT 1 FROM refresh_families f WHERE f.id = c.family_id)`,
		"unused authorization codes naming a family": `SELECT COUNT(*) FROM auth_codes WHERE used_at = 0 AND family_id <> ''`,
		"authorization-code families without their code": `SELECT COUNT(*) FROM refresh_families
			WHERE api_key_id IS NULL AND id NOT IN (SELECT family_id FROM auth_codes)`,
		"authorization-code families without their oauth.code_redeem event": `SELECT
			(SELECT COUNT(*) FROM refresh_families WHERE api_key_id IS NULL) - (SELECT COUNT(*) FROM audit_events WHERE action = 'oauth.code_redeem')`,
		"sessions without their api_session.login event": `SELECT COUNT(*) FROM refresh_families
			WHERE api_key_id IS NOT NULL AND id NOT IN (SELECT target FROM audit_events WHERE action = 'api_session.login')`,
		"PATs without their pat.create event": `SELECT COUNT(*) FROM pats
			WHERE id NOT IN (SELECT target FROM audit_events WHERE action = 'pat.create')`,
		"revoked PATs without their pat.revoke event": `SELECT COUNT(*) FROM pats
			WHERE revoked_at <> 0 AND id NOT IN (SELECT target FROM audit_events WHERE action = 'pat.revoke')`,
		"PAT rows missing a part": `SELECT COUNT(*) FROM pats WHERE digest = '' OR prefix NOT LIKE 'gate_pat_%' OR created_at = 0`,
		"JWT revocations (token.revoke events) not on the deny list": `SELECT COUNT(*) FROM audit_events
			WHERE action = 'token.revoke' AND target <> 'opaque' AND 'jti:' || target NOT IN (SELECT id FROM revocations)`,
	} {
		if n := e.count(db, q); n != 0 {
			e.t.Errorf("%s: %d %s", when, n, what)
		}
	}
	// A revoked family's unexpired access tokens are all on the deny list.
	rows, err := db.Query(`SELECT id, revoked_at, access_tokens FROM refresh_families WHERE revoked_at <> 0`)
	if err != nil {
		e.t.Fatal(err)
	}
	type fam struct {
		id      string
		revoked int64
		tokens  []struct {
			JTI string    `json:"jti"`
			Exp time.Time `json:"exp"`
		}
	}
	var fams []fam
	for rows.Next() {
		var f fam
		var access string
		if err := rows.Scan(&f.id, &f.revoked, &access); err != nil {
			e.t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(access), &f.tokens); err != nil {
			e.t.Fatalf("family %s: access_tokens %q: %v", f.id, access, err)
		}
		fams = append(fams, f)
	}
	rows.Close()
	for _, f := range fams {
		for _, tok := range f.tokens {
			if tok.Exp.UnixMicro() > f.revoked && e.count(db, `SELECT COUNT(*) FROM revocations WHERE id = $1`, "jti:"+tok.JTI) != 1 {
				e.t.Errorf("%s: family %s is revoked but its access token %s is not denied", when, f.id, tok.JTI)
			}
		}
	}
}

// authorizations counts the authorization codes issued and the
// oauth.authorize events recorded for them.
func (e *crashEnv) authorizations() (codes, events int) {
	e.t.Helper()
	db, done := e.sqlDB()
	defer done()
	return e.count(db, `SELECT COUNT(*) FROM auth_codes WHERE client_id = $1`, e.codeC.ClientID),
		e.count(db, `SELECT COUNT(*) FROM audit_events WHERE action = 'oauth.authorize' AND target = $1 AND outcome = 'success'`, e.codeC.ClientID)
}

// Usage counters (batched by design).

func (e *crashEnv) tokensIssued() map[string]int64 {
	e.t.Helper()
	out := map[string]int64{}
	for _, c := range []*admin.Client{e.jwtC, e.opaqueC} {
		got, err := e.p.Admin.GetClient(ctx, "acme", c.ClientID)
		if err != nil {
			e.t.Fatal(err)
		}
		out[c.ClientID] = got.TokensIssued
	}
	return out
}

// usageLost is how many acknowledged issuances the clients' counters miss
// (never negative: in-flight ones may have been counted).
func (e *crashEnv) usageLost(before map[string]int64, l *crashLedger) int64 {
	e.t.Helper()
	after := e.tokensIssued()
	var lost int64
	for c, op := range map[*admin.Client]string{e.jwtC: "issue-jwt", e.opaqueC: "issue-opaque"} {
		grew := after[c.ClientID] - before[c.ClientID]
		if hi := int64(l.ok[op] + l.unknown[op]); grew > hi {
			e.t.Errorf("client %s counted %d issued tokens, more than the %d answered or in flight", c.Name, grew, hi)
		}
		lost += max(int64(l.ok[op])-grew, 0)
	}
	return lost
}

// checkLastUse: after a graceful stop every PAT used has its last use.
func (e *crashEnv) checkLastUse(l *crashLedger) {
	e.t.Helper()
	list, err := e.p.Admin.ListUserTokens(ctx, "acme", e.userID, true)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range l.pats {
		i := slices.IndexFunc(list, func(t admin.PersonalToken) bool { return t.ID == p.id })
		if p.used && (i < 0 || list[i].LastUsedAt == nil) {
			e.t.Errorf("PAT %s was used before the graceful stop but has no last use", p.id)
		}
	}
}

// Verification after a restart.

// crashFacts are what verification established; they must stay true.
type crashFacts struct {
	live, dead         []*crashToken   // access tokens from client credentials
	refusedRefresh     map[string]bool // refresh token → of an authorization-code family
	livePATs, deadPATs []*crashPAT
	families           int
}

func (f *crashFacts) summary() string {
	return fmt.Sprintf("%d live and %d revoked client-credentials tokens, %d families (%d refresh tokens refused), %d live and %d revoked PATs",
		len(f.live), len(f.dead), f.families, len(f.refusedRefresh), len(f.livePATs), len(f.deadPATs))
}

func (e *crashEnv) introspect(tok *crashToken) bool {
	e.t.Helper()
	r := e.must("POST", "/oauth2/introspect", url.Values{"token": {tok.token}}, crashBasic(tok.client))
	if r.status != 200 {
		e.t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	return r.json["active"] == true
}

// verify checks every ledger entry against the restarted server. down is
// when the server went down (the refresh grace window counts from there).
func (e *crashEnv) verify(l *crashLedger, down time.Time) *crashFacts {
	t := e.t
	t.Helper()
	facts := &crashFacts{refusedRefresh: map[string]bool{}, families: len(l.families)}

	for _, tok := range l.tokens {
		switch {
		case tok.unsure:
			// Revoked or not: introspection and the gateway agree.
			if active, gw := e.introspect(tok), e.gateway(tok.token); active != (gw == 200) {
				t.Errorf("%s token with a revocation in flight: introspection active=%v, gateway %d", tok.client.Name, active, gw)
			}
		case tok.revoked:
			if e.introspect(tok) {
				t.Errorf("a %s token revoked (200) before the crash is active again", tok.client.Name)
			}
			if gw := e.gateway(tok.token); gw != 401 {
				t.Errorf("a %s token revoked before the crash: gateway %d, want 401", tok.client.Name, gw)
			}
			facts.dead = append(facts.dead, tok)
		default:
			if !e.introspect(tok) {
				t.Errorf("a %s token issued before the crash is not active", tok.client.Name)
			}
			if gw := e.gateway(tok.token); gw != 200 {
				t.Errorf("a %s token issued before the crash: gateway %d, want 200", tok.client.Name, gw)
			}
			facts.live = append(facts.live, tok)
		}
	}

	for _, f := range l.families {
		e.verifyFamily(f, down, facts)
	}

	list, err := e.p.Admin.ListUserTokens(ctx, "acme", e.userID, true)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, p := range list {
		status[p.ID] = p.Status
	}
	for _, p := range l.pats {
		e.accounted[p.id] = true
		works := e.must("GET", "/auth/tokens", nil, crashBearer(p.token)).status == 200
		gw := e.gateway(p.token)
		if works != (gw == 200) {
			t.Errorf("PAT %s: self-service and gateway disagree (%v, %d)", p.id, works, gw)
		}
		want := "active"
		switch {
		case p.unsure:
			want = map[bool]string{true: "active", false: "revoked"}[works]
		case p.revoked:
			want = "revoked"
			facts.deadPATs = append(facts.deadPATs, p)
		default:
			facts.livePATs = append(facts.livePATs, p)
		}
		if works != (want == "active") {
			t.Errorf("PAT %s (revoked before the crash: %v) authenticates: %v", p.id, p.revoked, works)
		}
		if status[p.id] != want {
			t.Errorf("PAT %s: the admin API says %q, want %q", p.id, status[p.id], want)
		}
	}
	orphans := 0
	for _, p := range list {
		if !e.accounted[p.ID] && p.Name == "crash" {
			orphans++
			e.accounted[p.ID] = true
		}
	}
	if orphans > l.unknown["pat-create"] {
		t.Errorf("%d PATs listed that no client was given, but only %d creations were in flight", orphans, l.unknown["pat-create"])
	}
	return facts
}

// refresh presents a refresh token of f.
func (e *crashEnv) refresh(f *crashFamily, rt string) crashResp {
	e.t.Helper()
	if f.code {
		return e.must("POST", "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, crashBasic(e.codeC))
	}
	return e.must("POST", "/auth/refresh", map[string]string{"refresh_token": rt}, nil)
}

// accessOK says whether one of f's access tokens is accepted: through the
// gateway, and for a code family by introspection too.
func (e *crashEnv) accessOK(f *crashFamily, tok string) bool {
	e.t.Helper()
	gw := e.gateway(tok)
	if f.code {
		if active := e.introspect(&crashToken{client: e.codeC, token: tok}); active != (gw == 200) {
			e.t.Errorf("code family access token: introspection active=%v, gateway %d", active, gw)
		}
	}
	return gw == 200
}

func (e *crashEnv) verifyFamily(f *crashFamily, down time.Time, facts *crashFacts) {
	t := e.t
	t.Helper()
	kind := map[bool]string{true: "authorization-code family", false: "API-key session"}[f.code]
	n := len(f.refresh) - 1
	last := f.refresh[n]
	seen := func(rt string) bool { return slices.Contains(f.refresh, rt) }
	refused := func(rt string) {
		t.Helper()
		if r := e.refresh(f, rt); r.status != 400 || r.str("error") != "invalid_grant" {
			t.Errorf("%s: a refresh token that must be refused: %d %s", kind, r.status, r.body)
		} else {
			facts.refusedRefresh[rt] = f.code
		}
	}
	// old presents a rotated-away token: refused, or (refresh_token grant,
	// within the grace window) the very pair it was rotated to, never a
	// new one. It reports whether it was refused.
	old := func(i int) bool {
		t.Helper()
		r := e.refresh(f, f.refresh[i])
		if r.status == 400 && r.str("error") == "invalid_grant" {
			facts.refusedRefresh[f.refresh[i]] = f.code
			return true
		}
		if f.code && r.status == 200 && i+1 < len(f.refresh) && r.str("refresh_token") == f.refresh[i+1] && r.str("access_token") == f.access[i+1] {
			return false // the grace window's replay
		}
		t.Errorf("%s: refresh token %d of %d, rotated before the crash, was accepted again: %d %.300s", kind, i, n, r.status, r.body)
		return false
	}

	// Access tokens: accepted while the family lives, refused once ended.
	if f.pending != "end" {
		for i, a := range f.access {
			if ok := e.accessOK(f, a); ok == f.ended {
				t.Errorf("%s (ended before the crash: %v): access token %d of %d accepted: %v", kind, f.ended, i, n, ok)
			}
		}
	}
	switch {
	case f.ended:
		refused(last)
		if n > 0 {
			refused(f.refresh[n-1])
		}
	case f.pending == "":
		// The last rotation held: the latest token is the current one.
		r := e.refresh(f, last)
		if r.status != 200 || r.str("refresh_token") == "" || seen(r.str("refresh_token")) {
			t.Errorf("%s: its latest refresh token (after %d rotations) does not rotate: %d %.300s", kind, n, r.status, r.body)
			return
		}
		next := r.str("refresh_token")
		f.refresh, f.access = append(f.refresh, next), append(f.access, r.str("access_token"))
		i := n // the one just rotated away; two generations back when there is one
		if n > 0 {
			i = n - 1
		}
		if old(i) {
			// Reuse detection ended the family: its newest token dies too.
			refused(next)
		}
	case f.code && f.pending == "refresh" && time.Since(down) < crashGrace/2:
		// The client lost the answer to its refresh in the crash and
		// retries within the grace window: it gets a pair either way (the
		// committed one again, or a first one), and that pair is current.
		r := e.refresh(f, last)
		if r.status != 200 || seen(r.str("refresh_token")) {
			t.Errorf("%s: retrying the refresh cut by the crash within the grace window: %d %.300s", kind, r.status, r.body)
			return
		}
		if r2 := e.refresh(f, r.str("refresh_token")); r2.status != 200 {
			t.Errorf("%s: the pair from the retried refresh does not rotate: %d %.300s", kind, r2.status, r2.body)
		}
		if n > 0 {
			refused(f.refresh[n-1]) // three generations back now
		}
	default:
		// A refresh or end was in flight: the latest token may or may not
		// be current, but every earlier one stays rotated.
		if n > 0 {
			old(n - 1)
		}
	}
}

// recheck: what verification established still holds.
func (e *crashEnv) recheck(when string, f *crashFacts) {
	t := e.t
	t.Helper()
	for _, tok := range f.live {
		if !e.introspect(tok) {
			t.Errorf("%s: a live %s token is no longer active", when, tok.client.Name)
		}
	}
	for _, tok := range f.dead {
		if e.introspect(tok) || e.gateway(tok.token) != 401 {
			t.Errorf("%s: a revoked %s token is accepted", when, tok.client.Name)
		}
	}
	for rt, code := range f.refusedRefresh {
		if r := e.refresh(&crashFamily{code: code}, rt); r.status != 400 {
			t.Errorf("%s: a refused refresh token is accepted: %d %s", when, r.status, r.body)
		}
	}
	for _, p := range f.livePATs {
		if gw := e.gateway(p.token); gw != 200 {
			t.Errorf("%s: a live PAT: gateway %d", when, gw)
		}
	}
	for _, p := range f.deadPATs {
		if gw := e.gateway(p.token); gw != 401 {
			t.Errorf("%s: a revoked PAT: gateway %d", when, gw)
		}
	}
}
