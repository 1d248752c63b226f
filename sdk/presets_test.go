package sdk_test

// These tests prove each preset Shape against an in-process fake of its
// platform's documented shape (/work/shared/reference: 000 Intigriti v1,
// 004 Pliant, 002 Intergiro). Each fake refuses, with a 400, any request
// that deviates from its document, and reads the same fake clock as the
// SDK, so expiry is stepped through without sleeping.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/sdk"
)

// ---- the clock ----

// fakeClock is the time of the SDK and the fakes alike, stepped by hand.
// After moves time on by d at once: a wait the SDK sits out is over as
// soon as it starts, and the clock shows that it was waited.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	hold *nowHold
}

var _ sdk.Clock = (*fakeClock)(nil)

// nowHold pauses the next Now call until released: it pins one
// goroutine at a chosen step of an interleaving.
type nowHold struct {
	reached chan struct{}
	wait    func()
	release func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	h := c.hold
	c.hold = nil
	c.mu.Unlock()
	if h != nil {
		close(h.reached)
		h.wait()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Advance(d)
	return ch
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// holdNextNow makes the next Now call wait until the hold is released.
func (c *fakeClock) holdNextNow(t *testing.T) *nowHold {
	h := &nowHold{reached: make(chan struct{})}
	h.wait, h.release = gate(t)
	c.mu.Lock()
	c.hold = h
	c.mu.Unlock()
	return h
}

// ---- strict request reading, shared by the fakes ----

// readRequest reads a POST whose body, of media type ctype, carries
// exactly the fields named, each once and not empty. problem says how
// the request deviates from that; "" when it does not.
func readRequest(r *http.Request, ctype string, fields ...string) (f map[string]string, problem string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case r.Method != http.MethodPost:
		return nil, "method " + r.Method + ", want POST"
	case r.URL.RawQuery != "":
		return nil, "a query string: the fields belong in the body"
	case r.Header.Get("Authorization") != "":
		return nil, "an Authorization header: the credentials belong in the body"
	case err != nil || mt != ctype:
		return nil, fmt.Sprintf("Content-Type %q, want %s", r.Header.Get("Content-Type"), ctype)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, "an unreadable body"
	}
	if ctype == "application/json" {
		f, problem = jsonFields(body)
	} else {
		f, problem = formFields(body)
	}
	if problem != "" {
		return nil, problem
	}
	return f, exactly(f, fields)
}

func formFields(body []byte) (map[string]string, string) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "the body is not form-urlencoded"
	}
	f := make(map[string]string, len(v))
	for k, vv := range v {
		if len(vv) != 1 {
			return nil, fmt.Sprintf("field %q repeated", k)
		}
		f[k] = vv[0]
	}
	return f, ""
}

func jsonFields(body []byte) (map[string]string, string) {
	var f map[string]string
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, "the body is not a JSON object of strings: " + err.Error()
	}
	return f, ""
}

// exactly reports a field that is missing, empty or not documented.
func exactly(f map[string]string, want []string) string {
	for k := range f {
		if !slices.Contains(want, k) {
			return fmt.Sprintf("undocumented field %q", k)
		}
	}
	for _, k := range want {
		if f[k] == "" {
			return fmt.Sprintf("field %q missing", k)
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client sees a short body
}

func oauthBody(code, description string) map[string]any {
	return map[string]any{"error": code, "error_description": description}
}

// strict records the requests a fake refused for their shape.
type strict struct {
	mu       sync.Mutex
	problems []string
}

func (s *strict) refuse(w http.ResponseWriter, status int, problem string) {
	s.mu.Lock()
	s.problems = append(s.problems, problem)
	s.mu.Unlock()
	writeJSON(w, status, oauthBody("invalid_request", problem))
}

func (s *strict) refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

// ---- client-credentials platforms: Intigriti v1 and Pliant ----

const (
	ccClientID     = "client-1"
	ccClientSecret = "s3cret"
	pliantAudience = "api.getpliant.com/api/integration"
)

// ccPlatform is a fake client-credentials platform: a token endpoint that
// takes exactly its documented request and gives its documented answer,
// and an API that accepts the tokens it issued until they expire or the
// platform revokes them.
type ccPlatform struct {
	name, tokenPath, apiPath string
	shape                    sdk.Shape
	audience                 string // the config's Audience
	clock                    *fakeClock
	ttl                      time.Duration
	// request reads a token request: the client's id and secret, or how
	// it deviates from the documented shape.
	request func(r *http.Request) (id, secret, problem string)
	// response is the documented answer carrying access.
	response func(access string) any
	// badClient is the status a wrong secret is refused with.
	badClient int
	// onToken hears the nth token request before it is answered.
	onToken func(n int)

	srv *httptest.Server
	strict
	mu       sync.Mutex
	n        ccCounts
	arrivals []time.Time          // the fake time each token request arrived
	expiry   map[string]time.Time // issued access token → its expiry
	revoked  map[string]bool
	calls    []apiCall
}

type ccCounts struct{ TokenRequests, APICalls, APIRefused int }

type apiCall struct {
	token, body string
	status      int
}

// newIntigriti is Intigriti's external API v1 (reference 000).
func newIntigriti(t *testing.T, clock *fakeClock, tweaks ...func(*ccPlatform)) *ccPlatform {
	p := &ccPlatform{
		name: "intigriti", tokenPath: "/connect/token", apiPath: "/external/company/v1.2/programs",
		shape: sdk.IntigritiV1, clock: clock, ttl: 1209600 * time.Second,
		// "provide following input parameters in the form-data of your
		// request: client_id, client_secret, grant_type ... Content-Type:
		// application/x-www-form-urlencoded"
		request: func(r *http.Request) (string, string, string) {
			f, problem := readRequest(r, "application/x-www-form-urlencoded", "client_id", "client_secret", "grant_type")
			if problem == "" && f["grant_type"] != "client_credentials" {
				problem = "grant_type " + f["grant_type"]
			}
			return f["client_id"], f["client_secret"], problem
		},
		// The documented response names the lifetime "expires_at", in seconds.
		response: func(access string) any {
			return map[string]any{"access_token": access, "expires_at": 1209600, "token_type": "Bearer", "scope": "external_api"}
		},
		badClient: http.StatusBadRequest, // IdentityServer's answer at /connect/token
	}
	return p.start(t, tweaks)
}

// newPliant is Pliant's client-credentials endpoint (reference 004, Auth0).
func newPliant(t *testing.T, clock *fakeClock, tweaks ...func(*ccPlatform)) *ccPlatform {
	p := &ccPlatform{
		name: "pliant", tokenPath: "/oauth/token", apiPath: "/api/cards",
		shape: sdk.Pliant, audience: pliantAudience, clock: clock, ttl: 86400 * time.Second,
		// --header 'Content-Type: application/json' --data-raw '{"client_id",
		// "client_secret", "audience", "grant_type": "client_credentials"}'
		request: func(r *http.Request) (string, string, string) {
			f, problem := readRequest(r, "application/json", "client_id", "client_secret", "audience", "grant_type")
			switch {
			case problem != "":
			case f["grant_type"] != "client_credentials":
				problem = "grant_type " + f["grant_type"]
			case f["audience"] != pliantAudience:
				problem = fmt.Sprintf("audience %q is not this API's", f["audience"])
			}
			return f["client_id"], f["client_secret"], problem
		},
		response: func(access string) any {
			return map[string]any{"access_token": access, "expires_in": 86400, "token_type": "Bearer"}
		},
		badClient: http.StatusUnauthorized,
	}
	return p.start(t, tweaks)
}

func (p *ccPlatform) start(t *testing.T, tweaks []func(*ccPlatform)) *ccPlatform {
	for _, tweak := range tweaks {
		tweak(p)
	}
	p.expiry, p.revoked = map[string]time.Time{}, map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc(p.tokenPath, p.token)
	mux.HandleFunc(p.apiPath, p.api)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.refuse(w, http.StatusNotFound, "no endpoint at "+r.URL.Path)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *ccPlatform) token(w http.ResponseWriter, r *http.Request) {
	id, secret, problem := p.request(r)
	if problem != "" {
		p.refuse(w, http.StatusBadRequest, problem)
		return
	}
	now := p.clock.Now()
	p.mu.Lock()
	p.n.TokenRequests++
	n := p.n.TokenRequests
	p.arrivals = append(p.arrivals, now)
	p.mu.Unlock()
	if p.onToken != nil {
		p.onToken(n)
	}
	if id != ccClientID || secret != ccClientSecret {
		writeJSON(w, p.badClient, oauthBody("invalid_client", "unknown client or wrong secret"))
		return
	}
	access := fmt.Sprintf("%s-token-%d", p.name, n)
	p.mu.Lock()
	p.expiry[access] = now.Add(p.ttl)
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, p.response(access))
}

// api accepts a bearer token the platform issued, unexpired and not
// revoked; it records each call.
func (p *ccPlatform) api(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	access, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n.APICalls++
	exp, issued := p.expiry[access]
	call := apiCall{token: access, body: string(body), status: http.StatusOK}
	if !issued || p.revoked[access] || !now.Before(exp) {
		p.n.APIRefused++
		call.status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	p.calls = append(p.calls, call)
	w.WriteHeader(call.status)
}

// revoke is the platform invalidating a token before it expires.
func (p *ccPlatform) revoke(access string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked[access] = true
}

// snapshot reads the platform's records under its lock.
func (p *ccPlatform) snapshot() (arrivals []time.Time, calls []apiCall) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.arrivals), slices.Clone(p.calls)
}

func (p *ccPlatform) config(clock sdk.Clock) sdk.ClientCredentialsConfig {
	return sdk.ClientCredentialsConfig{Shape: p.shape, BaseURL: p.srv.URL, ClientID: ccClientID, ClientSecret: ccClientSecret,
		Audience: p.audience, HTTPClient: p.srv.Client(), Clock: clock}
}

func (p *ccPlatform) wantCounts(t *testing.T, want ccCounts) {
	t.Helper()
	p.mu.Lock()
	got := p.n
	p.mu.Unlock()
	if got != want {
		t.Errorf("%s saw %+v, want %+v", p.name, got, want)
	}
	if r := p.refused(); len(r) > 0 {
		t.Errorf("%s refused requests of the wrong shape: %q", p.name, r)
	}
}

// ---- Intergiro: API-key sessions ----

const intergiroAPIKey = "c5f90f4b-9d69-416a-8611-8a8c8d605c36"

// intergiro is a fake of Intergiro's session API (reference 002): login
// with the API key, refresh with the newest refresh token (once only, and
// only after the access token expired), sessions of limited lifetime.
type intergiro struct {
	clock                 *fakeClock
	accessTTL, sessionTTL time.Duration
	// skew is how far the server's clock runs behind the client's.
	skew time.Duration
	// endSession answers a refresh after the session's lifetime.
	endSession func(w http.ResponseWriter)
	// onRefresh hears the nth refresh request before it is answered.
	onRefresh func(n int)

	srv *httptest.Server
	strict
	mu        sync.Mutex
	n         igCounts
	attempts  int
	presented []string // the refresh token of each refresh request
	pairs     map[string]*igPair
	access    map[string]time.Time // access token → exp
	minted    int
}

// igCounts: Refreshes are those that succeeded; Premature, Reused and
// Ended are refreshes refused as too early, with a used refresh token,
// and after the session's lifetime.
type igCounts struct{ Logins, Refreshes, Premature, Reused, Ended, APIRefused int }

// igPair is what the server knows of a refresh token.
type igPair struct {
	sessionStart time.Time
	accessExp    time.Time // of the access token issued with it
	used         bool
}

func newIntergiro(t *testing.T, clock *fakeClock, tweaks ...func(*intergiro)) *intergiro {
	g := &intergiro{clock: clock, accessTTL: 15 * time.Minute, sessionTTL: 2 * time.Hour,
		endSession: func(w http.ResponseWriter) {
			writeJSON(w, http.StatusUnauthorized, oauthBody(sdk.CodeSessionExpired, "the session has ended: log in again"))
		},
		pairs: map[string]*igPair{}, access: map[string]time.Time{}}
	for _, tweak := range tweaks {
		tweak(g)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v3/auth/login", g.login)
	mux.HandleFunc("/v3/auth/refresh", g.refresh)
	mux.HandleFunc("/v3/individuals", g.api)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		g.refuse(w, http.StatusNotFound, "no endpoint at "+r.URL.Path)
	})
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *intergiro) now() time.Time { return g.clock.Now().Add(-g.skew) }

// POST /v3/auth/login {"api_key": …} → {"access_token", "refresh_token"}.
func (g *intergiro) login(w http.ResponseWriter, r *http.Request) {
	f, problem := readRequest(r, "application/json", "api_key")
	if problem != "" {
		g.refuse(w, http.StatusBadRequest, problem)
		return
	}
	if f["api_key"] != intergiroAPIKey {
		http.Error(w, "Unauthorized", http.StatusUnauthorized) // undocumented: no error object
		return
	}
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n.Logins++
	writeJSON(w, http.StatusOK, g.issueLocked(now, now))
}

// POST /v3/auth/refresh {"refresh_token": …} → a new pair. "Attempts to
// prematurely refresh token will end with an error"; "always keep the
// latest refresh_token"; "Eventually refreshing the token will fail ...
// due to the session having a limited lifetime".
func (g *intergiro) refresh(w http.ResponseWriter, r *http.Request) {
	f, problem := readRequest(r, "application/json", "refresh_token")
	if problem != "" {
		g.refuse(w, http.StatusBadRequest, problem)
		return
	}
	g.mu.Lock()
	g.attempts++
	n := g.attempts
	g.presented = append(g.presented, f["refresh_token"])
	g.mu.Unlock()
	if g.onRefresh != nil {
		g.onRefresh(n)
	}
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.pairs[f["refresh_token"]]
	switch {
	case p == nil:
		writeJSON(w, http.StatusUnauthorized, oauthBody(sdk.CodeInvalidGrant, "unknown refresh token"))
	case p.used:
		g.n.Reused++
		writeJSON(w, http.StatusUnauthorized, oauthBody(sdk.CodeInvalidGrant, "refresh token already used"))
	case !now.Before(p.sessionStart.Add(g.sessionTTL)):
		g.n.Ended++
		g.endSession(w)
	case now.Before(p.accessExp):
		g.n.Premature++
		wait := math.Ceil(p.accessExp.Sub(now).Seconds())
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": sdk.CodeRefreshTooEarly,
			"error_description": "the access token has not expired", "retry_after": wait})
	default:
		p.used = true
		g.n.Refreshes++
		writeJSON(w, http.StatusOK, g.issueLocked(p.sessionStart, now))
	}
}

// issueLocked mints a pair of JWTs (unsigned-looking: the SDK only reads
// exp) in the session started at start.
func (g *intergiro) issueLocked(start, now time.Time) map[string]string {
	g.minted++
	exp := time.Unix(now.Add(g.accessTTL).Unix(), 0)
	access := mintJWT(map[string]any{"typ": "access", "jti": g.minted, "exp": exp.Unix()})
	refresh := mintJWT(map[string]any{"typ": "refresh", "jti": g.minted, "sessionStart": start.Unix()})
	g.access[access] = exp
	g.pairs[refresh] = &igPair{sessionStart: start, accessExp: exp}
	return map[string]string{"access_token": access, "refresh_token": refresh}
}

func mintJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(claims)
	return enc.EncodeToString([]byte(`{"kid":"1","alg":"RS256"}`)) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString([]byte("sig"))
}

// GET /v3/individuals with "Authorization: Bearer <access_token>".
func (g *intergiro) api(w http.ResponseWriter, r *http.Request) {
	access, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if exp, ok := g.access[access]; !ok || !now.Before(exp) {
		g.n.APIRefused++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": []any{}})
}

// refreshedWith is the refresh token of each refresh request.
func (g *intergiro) refreshedWith() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.presented)
}

func (g *intergiro) config(clock sdk.Clock) sdk.APIKeySessionConfig {
	return sdk.APIKeySessionConfig{Shape: sdk.Intergiro, BaseURL: g.srv.URL, APIKey: intergiroAPIKey,
		HTTPClient: g.srv.Client(), Clock: clock}
}

func (g *intergiro) wantCounts(t *testing.T, want igCounts) {
	t.Helper()
	g.mu.Lock()
	got := g.n
	g.mu.Unlock()
	if got != want {
		t.Errorf("intergiro saw %+v, want %+v", got, want)
	}
	if r := g.refused(); len(r) > 0 {
		t.Errorf("intergiro refused requests of the wrong shape: %q", r)
	}
}

// ---- helpers ----

func mustToken(t *testing.T, ctx context.Context, src sdk.TokenSource) *oauth2.Token {
	t.Helper()
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

type tokenResult struct {
	tok *oauth2.Token
	err error
}

func goToken(ctx context.Context, src sdk.TokenSource) <-chan tokenResult {
	ch := make(chan tokenResult, 1)
	go func() {
		tok, err := src.Token(ctx)
		ch <- tokenResult{tok, err}
	}()
	return ch
}

// gate holds a goroutine (a fake's answer, a paused Now) until opened;
// the test's cleanup opens it, so that a failing test never leaves a
// handler (and the server's Close) waiting.
func gate(t *testing.T) (wait func(), open func()) {
	ch := make(chan struct{})
	open = sync.OnceFunc(func() { close(ch) })
	t.Cleanup(open)
	return func() { <-ch }, open
}

// ---- Intigriti v1 ----

// "This standard provides temporary tokens that give access to a resource
// for a limited duration of 14 days. ... The access token needs to be
// reused until it expires": expires_at 1209600 is read as seconds.
func TestIntigritiV1ReusesItsFourteenDayToken(t *testing.T) {
	clock := newFakeClock()
	p := newIntigriti(t, clock)
	src := sdk.NewClientCredentials(p.config(clock))
	start := clock.Now()
	first := mustToken(t, t.Context(), src)
	if want := start.Add(14 * 24 * time.Hour); !first.Expiry.Equal(want) || first.TokenType != "Bearer" {
		t.Fatalf("token %s expiring %v, want Bearer expiring %v", first.TokenType, first.Expiry, want)
	}
	for range 50 { // 300 hours of calls, all before the renewal window
		clock.Advance(6 * time.Hour)
		if tok := mustToken(t, t.Context(), src); tok.AccessToken != first.AccessToken {
			t.Fatalf("at %v: a new token %q before expiry", clock.Now(), tok.AccessToken)
		}
	}
	p.wantCounts(t, ccCounts{TokenRequests: 1})
	clock.Set(first.Expiry)
	if tok := mustToken(t, t.Context(), src); tok.AccessToken == first.AccessToken {
		t.Fatal("the expired token was returned")
	}
	p.wantCounts(t, ccCounts{TokenRequests: 2})
}

// "Be sure to request a new access token when the API returns a 401":
// through Transport, a revoked token costs one token request, and the
// request is sent again with its body.
func TestIntigritiV1TransportRenewsOnceOn401(t *testing.T) {
	clock := newFakeClock()
	p := newIntigriti(t, clock)
	client := &http.Client{Transport: &sdk.Transport{Source: sdk.NewClientCredentials(p.config(clock)),
		Base: p.srv.Client().Transport, Clock: clock}}
	post := func(body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, p.srv.URL+p.apiPath, bytes.NewReader([]byte(body)))
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %v %v", body, resp, err)
		}
		resp.Body.Close()
	}
	post(`{"n":1}`)
	p.revoke("intigriti-token-1") // "until it expires or is invalidated by Intigriti"
	post(`{"n":2}`)
	p.wantCounts(t, ccCounts{TokenRequests: 2, APICalls: 3, APIRefused: 1})
	want := []apiCall{{"intigriti-token-1", `{"n":1}`, 200}, {"intigriti-token-1", `{"n":2}`, 401}, {"intigriti-token-2", `{"n":2}`, 200}}
	if _, calls := p.snapshot(); !slices.Equal(calls, want) {
		t.Errorf("API calls %+v, want %+v", calls, want)
	}
}

// A request whose body cannot be sent again gets the 401 back, but the
// refused token must not be sent again: the next request (here also a
// stream) carries a new one.
func TestIntigritiV1TransportDropsARefusedTokenItCannotRetryWith(t *testing.T) {
	clock := newFakeClock()
	p := newIntigriti(t, clock)
	client := &http.Client{Transport: &sdk.Transport{Source: sdk.NewClientCredentials(p.config(clock)),
		Base: p.srv.Client().Transport, Clock: clock}}
	stream := func(body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, p.srv.URL+p.apiPath, io.NopCloser(strings.NewReader(body)))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", body, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := stream("1"); got != http.StatusOK {
		t.Fatalf("first POST: %d", got)
	}
	p.revoke("intigriti-token-1")
	if got := stream("2"); got != http.StatusUnauthorized {
		t.Fatalf("POST with a revoked token and a one-shot body: %d, want the 401", got)
	}
	if got := stream("3"); got != http.StatusOK {
		t.Errorf("POST after a 401: %d, want 200 with a new token (the refused one was sent again)", got)
	}
	p.wantCounts(t, ccCounts{TokenRequests: 2, APICalls: 3, APIRefused: 1})
}

// ---- Pliant ----

// "Until then, the token has to be reused! Do not request a new token on
// every call": a hundred goroutines asking at once cause one request,
// whose expires_in 86400 is read.
func TestPliantOneTokenForConcurrentCallers(t *testing.T) {
	clock := newFakeClock()
	p := newPliant(t, clock)
	src := sdk.NewClientCredentials(p.config(clock))
	start := clock.Now()
	tokens := make([]*oauth2.Token, 100)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Go(func() {
			<-ready
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Errorf("Token: %v", err)
			}
			tokens[i] = tok
		})
	}
	close(ready)
	wg.Wait()
	p.wantCounts(t, ccCounts{TokenRequests: 1})
	for _, tok := range tokens {
		if tok == nil || tok.AccessToken != "pliant-token-1" || !tok.Expiry.Equal(start.Add(24*time.Hour)) {
			t.Fatalf("token %+v, want pliant-token-1 expiring in 86400 s", tok)
		}
	}
}

type phaseKey struct{}

func inPhase(ctx context.Context, phase string) context.Context {
	return context.WithValue(ctx, phaseKey{}, phase)
}

// phaseTrace sends token requests, recording for each the phase of the
// Token call that started it: a fetch keeps its caller's context values,
// so a renewal in the background is traced to the call that began it.
type phaseTrace struct {
	base  http.RoundTripper
	mu    sync.Mutex
	began []string
}

func (p *phaseTrace) RoundTrip(r *http.Request) (*http.Response, error) {
	phase, _ := r.Context().Value(phaseKey{}).(string)
	p.mu.Lock()
	p.began = append(p.began, phase)
	p.mu.Unlock()
	return p.base.RoundTrip(r)
}

// "only create a new token shortly before the TTL is exceeded": not
// before the lead (1 min) plus the whole jitter (30 s), and by the lead
// it has begun, in the background: callers keep the old token meanwhile.
func TestPliantRenewsInBackgroundShortlyBeforeExpiry(t *testing.T) {
	clock := newFakeClock()
	arrived := make(chan struct{})
	hold, release := gate(t)
	p := newPliant(t, clock, func(p *ccPlatform) {
		p.onToken = func(n int) {
			if n == 2 {
				close(arrived)
				hold()
			}
		}
	})
	trace := &phaseTrace{base: p.srv.Client().Transport}
	cfg := p.config(clock)
	cfg.HTTPClient = &http.Client{Transport: trace}
	src := sdk.NewClientCredentials(cfg) // the default lead and jitter
	old := mustToken(t, inPhase(t.Context(), "first"), src)
	exp := old.Expiry

	clock.Set(exp.Add(-90 * time.Second))
	for range 10 {
		if tok := mustToken(t, inPhase(t.Context(), "early"), src); tok.AccessToken != old.AccessToken {
			t.Fatalf("early: %q", tok.AccessToken)
		}
	}
	clock.Set(exp.Add(-time.Minute))
	ctx, cancel := context.WithCancel(inPhase(t.Context(), "window"))
	got := goToken(ctx, src)
	<-arrived
	cancel() // a Token call waiting for the renewal would now fail
	if r := <-got; r.err != nil || r.tok.AccessToken != old.AccessToken {
		t.Fatalf("in the renewal window: %v, %v; want the old token at once", r.tok, r.err)
	}
	for range 10 {
		if tok := mustToken(t, inPhase(t.Context(), "in flight"), src); tok.AccessToken != old.AccessToken {
			t.Fatalf("while renewing: %q", tok.AccessToken)
		}
	}
	release()
	clock.Set(exp)
	if tok := mustToken(t, inPhase(t.Context(), "expired"), src); tok.AccessToken != "pliant-token-2" {
		t.Fatalf("after expiry: %q, want the renewed token", tok.AccessToken)
	}
	p.wantCounts(t, ccCounts{TokenRequests: 2})
	if want := []string{"first", "window"}; !slices.Equal(trace.began, want) {
		t.Errorf("token requests began in phases %q, want %q", trace.began, want)
	}
	if arrivals, _ := p.snapshot(); !arrivals[1].Equal(exp.Add(-time.Minute)) {
		t.Errorf("renewal at %v, want %v", arrivals[1], exp.Add(-time.Minute))
	}
}

// ---- Intergiro ----

// "Please be aware that token refresh attempt should be performed only
// after access token has expired" and "always keep the latest
// refresh_token": one login, then each renewal a refresh at exp (read from
// the access JWT) presenting the refresh token of the pair before.
func TestIntergiroRefreshesOnlyOnceExpiredWithTheNewestToken(t *testing.T) {
	clock := newFakeClock()
	g := newIntergiro(t, clock)
	s := sdk.NewAPIKeySession(g.config(clock))
	tok := mustToken(t, t.Context(), s)
	var handed []string
	for range 5 {
		if want := clock.Now().Add(g.accessTTL); !tok.Expiry.Equal(want) {
			t.Fatalf("expiry %v, want the JWT's exp %v", tok.Expiry, want)
		}
		clock.Set(tok.Expiry.Add(-time.Second))
		if same := mustToken(t, t.Context(), s); same.AccessToken != tok.AccessToken {
			t.Fatal("renewed before the access token expired")
		}
		clock.Set(tok.Expiry)
		handed = append(handed, tok.RefreshToken)
		next := mustToken(t, t.Context(), s)
		if next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken {
			t.Fatal("not renewed at expiry")
		}
		tok = next
	}
	g.wantCounts(t, igCounts{Logins: 1, Refreshes: 5})
	if got := g.refreshedWith(); !slices.Equal(got, handed) {
		t.Errorf("refreshed with %q, want the newest of each pair %q", got, handed)
	}
}

// Used normally through Transport for three hours: every API call
// succeeds, the session is refreshed at each expiry, never early, and is
// logged into again once, when its two hours are over.
func TestIntergiroThroughTransportLogsInAgainOnlyWhenTheSessionEnds(t *testing.T) {
	clock := newFakeClock()
	g := newIntergiro(t, clock)
	client := &http.Client{Transport: &sdk.Transport{Source: sdk.NewAPIKeySession(g.config(clock)),
		Base: g.srv.Client().Transport, Clock: clock}}
	for minute := 0; minute <= 180; minute++ {
		resp, err := client.Get(g.srv.URL + "/v3/individuals")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("minute %d: %v %v", minute, resp, err)
		}
		resp.Body.Close()
		clock.Advance(time.Minute)
	}
	// Refreshes at 15, 30 … 105 min; at 120 the session has ended: a
	// login; then refreshes at 135, 150, 165, 180.
	g.wantCounts(t, igCounts{Logins: 2, Refreshes: 11, Ended: 1})
}

// However the platform words "the session ended", the SDK logs in once
// and goes on refreshing in the new session.
func TestIntergiroSessionEndMeansOneNewLogin(t *testing.T) {
	cases := []struct {
		name string
		end  func(w http.ResponseWriter)
	}{
		{"401 session_expired", func(w http.ResponseWriter) {
			writeJSON(w, http.StatusUnauthorized, oauthBody(sdk.CodeSessionExpired, ""))
		}},
		{"400 invalid_grant", func(w http.ResponseWriter) {
			writeJSON(w, http.StatusBadRequest, oauthBody(sdk.CodeInvalidGrant, "session expired"))
		}},
		{"401 without a body", func(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			g := newIntergiro(t, clock, func(g *intergiro) { g.sessionTTL, g.endSession = time.Hour, tc.end })
			s := sdk.NewAPIKeySession(g.config(clock))
			tok := mustToken(t, t.Context(), s)
			for range 5 { // at 15, 30, 45 min a refresh; at 60 the end and a login; at 75 a refresh
				clock.Set(tok.Expiry)
				tok = mustToken(t, t.Context(), s)
			}
			g.wantCounts(t, igCounts{Logins: 2, Refreshes: 4, Ended: 1})
		})
	}
}

// A server whose clock runs behind answers refresh_too_early: a short
// retry_after is sat out (on the clock) and the refresh sent again; a
// long one is the caller's error. Neither becomes a login.
func TestIntergiroSitsOutAShortRefreshTooEarly(t *testing.T) {
	t.Run("2 s behind", func(t *testing.T) {
		clock := newFakeClock()
		g := newIntergiro(t, clock, func(g *intergiro) { g.skew = 2 * time.Second })
		s := sdk.NewAPIKeySession(g.config(clock))
		tok := mustToken(t, t.Context(), s)
		clock.Set(tok.Expiry)
		if next := mustToken(t, t.Context(), s); next.AccessToken == tok.AccessToken {
			t.Fatal("not renewed")
		}
		if want := tok.Expiry.Add(2 * time.Second); !clock.Now().Equal(want) {
			t.Errorf("clock at %v, want %v: retry_after 2 waited once", clock.Now(), want)
		}
		g.wantCounts(t, igCounts{Logins: 1, Refreshes: 1, Premature: 1})
	})
	t.Run("2 min behind", func(t *testing.T) {
		clock := newFakeClock()
		g := newIntergiro(t, clock, func(g *intergiro) { g.skew = 2 * time.Minute })
		s := sdk.NewAPIKeySession(g.config(clock))
		tok := mustToken(t, t.Context(), s)
		clock.Set(tok.Expiry)
		_, err := s.Token(t.Context())
		var oe *sdk.OAuthError
		if !errors.As(err, &oe) || oe.Code != sdk.CodeRefreshTooEarly || oe.RetryAfter != 2*time.Minute {
			t.Fatalf("err = %v, want refresh_too_early retrying after 2m", err)
		}
		clock.Advance(oe.RetryAfter)
		mustToken(t, t.Context(), s)
		g.wantCounts(t, igCounts{Logins: 1, Refreshes: 1, Premature: 1})
	})
}

// "Not relying on refresh tokens may trigger fraud prevention": with a
// FileStore, a restarted program takes up the session where it was: its
// access token while good, then a refresh with the newest refresh token.
func TestIntergiroFileStoreKeepsTheSessionAcrossARestart(t *testing.T) {
	clock := newFakeClock()
	g := newIntergiro(t, clock)
	path := filepath.Join(t.TempDir(), "intergiro.json")
	cfg := g.config(clock)
	cfg.Store = sdk.FileStore{Path: path}
	cfg.OnStoreError = func(err error) { t.Errorf("store: %v", err) }

	before := sdk.NewAPIKeySession(cfg)
	clock.Set(mustToken(t, t.Context(), before).Expiry)
	last := mustToken(t, t.Context(), before) // a login, then a refresh
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v, %v; want mode 0600", fi, err)
	}

	after := sdk.NewAPIKeySession(cfg) // the restart
	if tok := mustToken(t, t.Context(), after); tok.AccessToken != last.AccessToken {
		t.Fatal("the stored access token, still good, was not used")
	}
	g.wantCounts(t, igCounts{Logins: 1, Refreshes: 1})
	clock.Set(last.Expiry)
	mustToken(t, t.Context(), after)
	g.wantCounts(t, igCounts{Logins: 1, Refreshes: 2})
	if got := g.refreshedWith(); len(got) != 2 || got[1] != last.RefreshToken {
		t.Errorf("refreshed with %q, want the stored %q after the restart", got, last.RefreshToken)
	}
}

// ---- every preset ----

// A caller that found the cache empty (or expired) just before another's
// renewal landed, and takes the lock just after it, must use that token:
// not fetch again. The clock's hold pins the late caller between its look
// at the cache and its taking of the lock.
func TestACallerRacingARenewalDoesNotRenewAgain(t *testing.T) {
	t.Run("pliant first token", func(t *testing.T) {
		clock := newFakeClock()
		arrived := make(chan struct{})
		wait, answer := gate(t)
		p := newPliant(t, clock, func(p *ccPlatform) {
			p.onToken = func(n int) {
				if n == 1 {
					close(arrived)
					wait()
				}
			}
		})
		src := sdk.NewClientCredentials(p.config(clock))
		first, late := raceRenewal(t, clock, src, arrived, answer)
		if late.err != nil || late.tok.AccessToken != first.tok.AccessToken {
			t.Errorf("the late caller got %v, %v; want %q", late.tok, late.err, first.tok.AccessToken)
		}
		p.wantCounts(t, ccCounts{TokenRequests: 1})
	})
	t.Run("intergiro refresh", func(t *testing.T) {
		clock := newFakeClock()
		arrived := make(chan struct{})
		wait, answer := gate(t)
		g := newIntergiro(t, clock, func(g *intergiro) {
			g.onRefresh = func(n int) {
				if n == 1 {
					close(arrived)
					wait()
				}
			}
		})
		s := sdk.NewAPIKeySession(g.config(clock))
		clock.Set(mustToken(t, t.Context(), s).Expiry)
		first, late := raceRenewal(t, clock, s, arrived, answer)
		if late.err != nil || late.tok.AccessToken != first.tok.AccessToken {
			t.Errorf("the late caller got %v, %v; want the refreshed token", late.tok, late.err)
		}
		g.wantCounts(t, igCounts{Logins: 1, Refreshes: 1})
	})
}

// raceRenewal starts a renewal, holds its answer until a late caller is
// pinned inside Token, lets the renewal land, then lets the late caller on.
func raceRenewal(t *testing.T, clock *fakeClock, src sdk.TokenSource, arrived <-chan struct{}, answer func()) (first, late tokenResult) {
	t.Helper()
	firstCh := goToken(t.Context(), src)
	<-arrived
	hold := clock.holdNextNow(t)
	lateCh := goToken(t.Context(), src)
	<-hold.reached // the late caller has looked at the cache
	answer()
	first = <-firstCh // the renewal has landed
	if first.err != nil {
		t.Fatalf("the renewal: %v", first.err)
	}
	hold.release()
	return first, <-lateCh
}

// A bad secret (or API key) is an *OAuthError whose Code says so.
func TestPresetsRefuseBadCredentialsWithTypedErrors(t *testing.T) {
	clock := newFakeClock()
	wrongSecret := func(p *ccPlatform) sdk.TokenSource {
		cfg := p.config(clock)
		cfg.ClientSecret = "wrong"
		return sdk.NewClientCredentials(cfg)
	}
	cfg := newIntergiro(t, clock).config(clock)
	cfg.APIKey = "wrong"
	cases := []struct {
		name   string
		src    sdk.TokenSource
		status int
		code   string
	}{
		{"intigriti", wrongSecret(newIntigriti(t, clock)), http.StatusBadRequest, "invalid_client"},
		{"pliant", wrongSecret(newPliant(t, clock)), http.StatusUnauthorized, "invalid_client"},
		// Intergiro documents no error body: the code comes from the status.
		{"intergiro", sdk.NewAPIKeySession(cfg), http.StatusUnauthorized, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.src.Token(t.Context())
			var oe *sdk.OAuthError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v (%T), want an *sdk.OAuthError", err, err)
			}
			if oe.Code != tc.code || oe.StatusCode != tc.status {
				t.Errorf("got %s (HTTP %d), want %s (HTTP %d)", oe.Code, oe.StatusCode, tc.code, tc.status)
			}
		})
	}
}

// The fakes are strict: a preset drifted from its document (another body
// encoding, credentials in a header, a field too many or too few, another
// path) is refused, so the tests above prove the documented shape.
func TestFakesRefuseUndocumentedShapes(t *testing.T) {
	clock := newFakeClock()
	intigriti, pliant, ig := newIntigriti(t, clock), newPliant(t, clock), newIntergiro(t, clock)
	cc := func(p *ccPlatform, tweak func(*sdk.ClientCredentialsConfig)) sdk.TokenSource {
		cfg := p.config(clock)
		tweak(&cfg)
		return sdk.NewClientCredentials(cfg)
	}
	session := func(tweak func(*sdk.APIKeySessionConfig)) sdk.TokenSource {
		cfg := ig.config(clock)
		tweak(&cfg)
		return sdk.NewAPIKeySession(cfg)
	}
	cases := []struct {
		name   string
		src    sdk.TokenSource
		status int
	}{
		{"intigriti JSON body", cc(intigriti, func(c *sdk.ClientCredentialsConfig) { c.Shape.TokenBody = sdk.JSONBody }), 400},
		{"intigriti Basic credentials", cc(intigriti, func(c *sdk.ClientCredentialsConfig) { c.Shape.ClientAuth = sdk.AuthBasic }), 400},
		{"intigriti scope field", cc(intigriti, func(c *sdk.ClientCredentialsConfig) { c.Scopes = []string{"external_api"} }), 400},
		{"intigriti Gatehouse path", cc(intigriti, func(c *sdk.ClientCredentialsConfig) { c.Shape.TokenPath = "" }), 404},
		{"pliant form body", cc(pliant, func(c *sdk.ClientCredentialsConfig) { c.Shape.TokenBody = sdk.FormBody }), 400},
		{"pliant Basic credentials", cc(pliant, func(c *sdk.ClientCredentialsConfig) { c.Shape.ClientAuth = sdk.AuthBasic }), 400},
		{"pliant no audience", cc(pliant, func(c *sdk.ClientCredentialsConfig) { c.Audience = "" }), 400},
		{"pliant staging audience", cc(pliant, func(c *sdk.ClientCredentialsConfig) {
			c.Audience = "api.staging.v2.infinnitytest.com/api/integration"
		}), 400},
		{"intergiro apiKey field", session(func(c *sdk.APIKeySessionConfig) { c.Shape.APIKeyField = "apiKey" }), 400},
		{"intergiro Gatehouse paths", session(func(c *sdk.APIKeySessionConfig) { c.Shape = sdk.Gatehouse }), 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.src.Token(t.Context())
			var oe *sdk.OAuthError
			if !errors.As(err, &oe) || oe.StatusCode != tc.status {
				t.Fatalf("err = %v, want an *sdk.OAuthError with HTTP %d", err, tc.status)
			}
		})
	}
	for _, f := range []struct {
		name string
		s    *strict
		want int
	}{{"intigriti", &intigriti.strict, 4}, {"pliant", &pliant.strict, 4}, {"intergiro", &ig.strict, 2}} {
		if got := f.s.refused(); len(got) != f.want {
			t.Errorf("%s refused %q, want %d", f.name, got, f.want)
		}
	}
}
