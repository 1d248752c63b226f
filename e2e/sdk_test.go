package e2e

// The Go SDK (package sdk) against the real server over loopback: each test
// drives one of its token sources through sdk.Transport to the gateway and
// counts, on the wire and in the server's own records, what it sent.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	gstore "github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// sdkRoutes: machine routes (api, billing with its own audience), a user
// route (subs), and two with their own read budgets: tiny (one read per
// 30 s, so the second waits long) and paced (5 reads a second).
func sdkRoutes(up string) string {
	return `
routes:
  - name: api
    prefix: /api/{tenant}
    upstream: ` + up + `
    read_scope: api:read
    write_scope: api:write
  - name: billing
    prefix: /billing
    upstream: ` + up + `
    read_scope: api:read
    audiences: ["https://billing.example"]
  - name: subs
    prefix: /subs/{tenant}
    upstream: ` + up + `
    read_scope: submissions:read
  - name: tiny
    prefix: /tiny/{tenant}
    upstream: ` + up + `
    read_scope: api:read
    rate_limits: {read: "1/30s"}
  - name: paced
    prefix: /paced/{tenant}
    upstream: ` + up + `
    read_scope: api:read
    rate_limits: {read: "5/1s"}
`
}

// startSDKGateway starts Gatehouse with sdkRoutes in front of a fresh
// upstream.
func startSDKGateway(t *testing.T) (*apptest.Server, *upstream) {
	t.Helper()
	up := newUpstream(t)
	routes := writeRoutes(t, t.TempDir(), sdkRoutes(up.URL))
	s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) { c.Routes = routes })
	return s, up
}

// sdkHop is one request the SDK sent and what came back.
type sdkHop struct {
	Method, Path, ContentType, Authorization, Body string
	Status                                         int
	Code                                           string // the JSON error code of a refusal
}

// sdkConns is a transport of the test's own, its connections closed
// before the server stops: a burst leaves dialled, never-used connections
// that would otherwise hold up the server's graceful shutdown.
func sdkConns(t *testing.T) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// sdkWire is an http.RoundTripper that records every request: the
// counting is done on the wire, not inside the SDK.
type sdkWire struct {
	base http.RoundTripper
	mu   sync.Mutex
	hops []sdkHop
}

func newSDKWire(t *testing.T) *sdkWire { return &sdkWire{base: sdkConns(t)} }

func (w *sdkWire) RoundTrip(req *http.Request) (*http.Response, error) {
	h := sdkHop{Method: req.Method, Path: req.URL.Path, ContentType: req.Header.Get("Content-Type"), Authorization: req.Header.Get("Authorization")}
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		h.Body, req.Body = string(b), io.NopCloser(bytes.NewReader(b))
	}
	resp, err := w.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	h.Status = resp.StatusCode
	if resp.StatusCode >= 400 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		h.Code = e.Error
	}
	w.mu.Lock()
	w.hops = append(w.hops, h)
	w.mu.Unlock()
	return resp, nil
}

// to returns the hops to path.
func (w *sdkWire) to(path string) []sdkHop {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []sdkHop
	for _, h := range w.hops {
		if h.Path == path {
			out = append(out, h)
		}
	}
	return out
}

// statuses returns the statuses of all hops, in order.
func (w *sdkWire) statuses() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]int, len(w.hops))
	for i, h := range w.hops {
		out[i] = h.Status
	}
	return out
}

// withCode counts the hops refused with code.
func (w *sdkWire) withCode(code string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, h := range w.hops {
		if h.Code == code {
			n++
		}
	}
	return n
}

// sdkClock is the SDK's time: the real clock plus an offset the test moves
// forward. The server runs on real time and its shortest access token
// lives a minute, so the client is made to live through that minute.
// After waits in real time.
type sdkClock struct{ offset atomic.Int64 }

func (c *sdkClock) Now() time.Time                         { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *sdkClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (c *sdkClock) Advance(d time.Duration)                { c.offset.Add(int64(d)) }

// pass moves the clock to one second after t.
func (c *sdkClock) pass(t time.Time) { c.Advance(t.Sub(c.Now()) + time.Second) }

// sdkMemStore is an sdk.Store that keeps every pair saved.
type sdkMemStore struct {
	mu    sync.Mutex
	saved []*oauth2.Token
}

func (m *sdkMemStore) Load(context.Context) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.saved) == 0 {
		return nil, nil
	}
	return m.saved[len(m.saved)-1], nil
}

func (m *sdkMemStore) Save(_ context.Context, tok *oauth2.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saved = append(m.saved, tok)
	return nil
}

func (m *sdkMemStore) refreshTokens() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, tok := range m.saved {
		out = append(out, tok.RefreshToken)
	}
	return out
}

// sdkGet sends a GET with hc and returns the status.
func sdkGet(ctx context.Context, hc *http.Client, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// mustGet is sdkGet that wants a 200.
func mustGet(t *testing.T, hc *http.Client, u string) {
	t.Helper()
	if st, err := sdkGet(ctx, hc, u); err != nil || st != 200 {
		t.Fatalf("GET %s: %d %v", u, st, err)
	}
}

// Client credentials in Gatehouse's shape (form, Basic) and in the JSON
// shape with the secret in the body (Pliant's), with scopes and an
// audience: the tokens work at the gateway, the token requests look as the
// shape says, one token serves many calls, and the scopes asked for bound
// what the token may do.
func TestSDKClientCredentials(t *testing.T) {
	s, _ := startSDKGateway(t)
	c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read", "api:write"}, Audiences: &[]string{"https://billing.example"}})
	for _, tc := range []struct {
		name  string
		shape sdk.Shape
		cfg   sdk.ClientCredentialsConfig
		path  string
		check func(t *testing.T, h sdkHop)
	}{
		{"gatehouse form and basic", sdk.Gatehouse, sdk.ClientCredentialsConfig{Scopes: []string{"api:read"}}, "/api/acme/items",
			func(t *testing.T, h sdkHop) {
				f, _ := url.ParseQuery(h.Body)
				if h.ContentType != "application/x-www-form-urlencoded" || !strings.HasPrefix(h.Authorization, "Basic ") ||
					f.Get("client_secret") != "" || f.Get("grant_type") != "client_credentials" || f.Get("scope") != "api:read" {
					t.Errorf("token request: %+v", h)
				}
			}},
		{"json body, secret in body, audience", sdk.Shape{TokenBody: sdk.JSONBody, ClientAuth: sdk.AuthInBody},
			sdk.ClientCredentialsConfig{Scopes: []string{"api:read"}, Audience: "https://billing.example"}, "/billing/x",
			func(t *testing.T, h sdkHop) {
				var f map[string]string
				if err := json.Unmarshal([]byte(h.Body), &f); err != nil || h.ContentType != "application/json" || h.Authorization != "" ||
					f["client_id"] != c.ClientID || f["client_secret"] != c.ClientSecret || f["audience"] != "https://billing.example" || f["scope"] != "api:read" {
					t.Errorf("token request: %+v", h)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSDKWire(t)
			cfg := tc.cfg
			cfg.Shape, cfg.BaseURL, cfg.ClientID, cfg.ClientSecret, cfg.HTTPClient = tc.shape, s.URL, c.ClientID, c.ClientSecret, &http.Client{Transport: w}
			hc := &http.Client{Transport: &sdk.Transport{Source: sdk.NewClientCredentials(cfg)}}
			mustGet(t, hc, s.URL+tc.path)
			mustGet(t, hc, s.URL+tc.path)
			hops := w.to("/oauth2/token")
			if len(hops) != 1 || hops[0].Status != 200 {
				t.Fatalf("token requests: %+v", hops)
			}
			tc.check(t, hops[0])
		})
	}
	// The scopes asked for are the token's: no write with a read-only token.
	src := sdk.NewClientCredentials(sdk.ClientCredentialsConfig{BaseURL: s.URL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: []string{"api:read"}})
	resp, err := (&http.Client{Transport: &sdk.Transport{Source: src}}).Post(s.URL+"/api/acme/items", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("a write with scope api:read: %d", resp.StatusCode)
	}
}

// However many goroutines call through one Transport at once, one token is
// issued: counted on the wire and by the server (tokens_issued).
func TestSDKConcurrentCallsShareOneToken(t *testing.T) {
	s, up := startSDKGateway(t)
	c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read"}})
	w := newSDKWire(t)
	src := sdk.NewClientCredentials(sdk.ClientCredentialsConfig{BaseURL: s.URL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, HTTPClient: &http.Client{Transport: w}})
	hc := &http.Client{Transport: &sdk.Transport{Source: src, Base: sdkConns(t)}}
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if st, err := sdkGet(ctx, hc, s.URL+"/api/acme/items"); err != nil || st != 200 {
				t.Errorf("concurrent GET: %d %v", st, err)
			}
		})
	}
	wg.Wait()
	if got := len(w.to("/oauth2/token")); got != 1 {
		t.Errorf("%d token requests for %d concurrent calls, want 1", got, n)
	}
	if up.count() != n {
		t.Errorf("the upstream saw %d calls, want %d", up.count(), n)
	}
	var got *admin.Client
	waitFor(t, func() bool {
		var err error
		got, err = s.Admin.GetClient(ctx, "acme", c.ClientID)
		return err == nil && got.GatewayRequests == n && got.TokensIssued > 0
	})
	if got.TokensIssued != 1 {
		t.Errorf("the server issued %d tokens, want 1", got.TokensIssued)
	}
}

// On 401 the Transport renews the token once and sends the request again;
// a static token (a PAT) cannot be renewed, so the caller sees the 401
// after one request.
func TestSDKTransportOn401(t *testing.T) {
	s, up := startSDKGateway(t)

	t.Run("client credentials: revoked, renewed, retried", func(t *testing.T) {
		c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read"}})
		tokWire, gw := newSDKWire(t), newSDKWire(t)
		src := sdk.NewClientCredentials(sdk.ClientCredentialsConfig{BaseURL: s.URL, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
			HTTPClient: &http.Client{Transport: tokWire}})
		hc := &http.Client{Transport: &sdk.Transport{Source: src, Base: gw}}
		mustGet(t, hc, s.URL+"/api/acme/items")
		first, err := src.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// RFC 7009 revocation: refused by this replica at once.
		if r := postForm(t, s, "/oauth2/revoke", url.Values{"token": {first.AccessToken}}, c.ClientID, c.ClientSecret); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		before := up.count()
		mustGet(t, hc, s.URL+"/api/acme/items")
		if got := gw.statuses(); len(got) != 3 || got[1] != 401 || got[2] != 200 {
			t.Errorf("gateway answers %v, want [200 401 200]", got)
		}
		if up.count() != before+1 {
			t.Errorf("the upstream saw %d calls, want 1", up.count()-before)
		}
		if got := len(tokWire.to("/oauth2/token")); got != 2 {
			t.Errorf("%d token requests, want 2 (the first and the renewal)", got)
		}
		if next, _ := src.Token(ctx); next.AccessToken == first.AccessToken {
			t.Error("the revoked token is still cached")
		}
	})

	t.Run("static PAT: revoked, no loop", func(t *testing.T) {
		u := patUser(t, s, "acme", "pat@acme.example")
		pat := mintPAT(t, s, u, "30d")
		gw := newSDKWire(t)
		hc := &http.Client{Transport: &sdk.Transport{Source: sdk.NewStatic(pat.Token), Base: gw}}
		mustGet(t, hc, s.URL+"/subs/acme/x")
		if err := s.Admin.RevokeUserToken(ctx, "acme", u.ID, pat.PAT.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return call(t, s, "GET", "/subs/acme/x", pat.Token, nil).Status == 401 })
		resp, err := hc.Get(s.URL + "/subs/acme/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("revoked PAT: %d %q, want the 401", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if got := gw.statuses(); len(got) != 2 {
			t.Errorf("gateway answers %v: want one request for the revoked PAT, not a retry", got)
		}
	})
}

// 429: fail fast, or give up at once when the caller's deadline comes
// before Retry-After; with a Limiter on the route's budget a burst of
// twice the budget never meets a 429.
func TestSDKRateLimits(t *testing.T) {
	s, _ := startSDKGateway(t)
	c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read"}})
	src := sdk.NewClientCredentials(sdk.ClientCredentialsConfig{BaseURL: s.URL, ClientID: c.ClientID, ClientSecret: c.ClientSecret})

	t.Run("fail fast and deadlines", func(t *testing.T) {
		gw := newSDKWire(t)
		mustGet(t, &http.Client{Transport: &sdk.Transport{Source: src, Base: gw}}, s.URL+"/tiny/acme/x") // the one read per 30 s
		for _, tc := range []struct {
			name string
			tr   *sdk.Transport
			ctx  func() (context.Context, context.CancelFunc)
		}{
			{"fail fast", &sdk.Transport{Source: src, Base: gw, FailFast: true}, func() (context.Context, context.CancelFunc) { return ctx, func() {} }},
			// Retry-After is ~30 s: waiting it out would end in the deadline.
			{"deadline before Retry-After", &sdk.Transport{Source: src, Base: gw},
				func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 3*time.Second) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := len(gw.statuses())
				rctx, cancel := tc.ctx()
				defer cancel()
				_, err := sdkGet(rctx, &http.Client{Transport: tc.tr}, s.URL+"/tiny/acme/x")
				var rl *sdk.RateLimitError
				if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.Response == nil || rl.Response.StatusCode != 429 {
					t.Fatalf("err = %v, want a *sdk.RateLimitError with the wait", err)
				}
				if rctx.Err() != nil {
					t.Error("the Transport waited into the deadline instead of returning at once")
				}
				if got := gw.statuses()[before:]; len(got) != 1 || got[0] != 429 {
					t.Errorf("gateway answers %v, want one 429", got)
				}
			})
		}
	})

	t.Run("limiter keeps within the budget", func(t *testing.T) {
		const n = 5 // the paced route's 5 reads a second
		gw := newSDKWire(t)
		hc := &http.Client{Transport: &sdk.Transport{Source: src, Base: gw, Limiter: sdk.NewLimiter(sdk.Budget{Reads: n, Per: time.Second})}}
		for range 2 * n {
			mustGet(t, hc, s.URL+"/paced/acme/x")
		}
		if got := gw.statuses(); len(got) != 2*n {
			t.Errorf("gateway answers %v, want %d 200s and no 429", got, 2*n)
		}
		// Without the limiter the same burst is refused: the budget is real.
		other := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"api:read"}})
		bare := &http.Client{Transport: &sdk.Transport{FailFast: true, Base: sdkConns(t),
			Source: sdk.NewClientCredentials(sdk.ClientCredentialsConfig{BaseURL: s.URL, ClientID: other.ClientID, ClientSecret: other.ClientSecret})}}
		var limited atomic.Int32
		var wg sync.WaitGroup
		for range 2 * n {
			wg.Go(func() {
				var rl *sdk.RateLimitError
				if _, err := sdkGet(ctx, bare, s.URL+"/paced/acme/x"); errors.As(err, &rl) {
					limited.Add(1)
				}
			})
		}
		wg.Wait()
		if limited.Load() == 0 {
			t.Error("a burst of twice the budget without a limiter met no 429: the test proves nothing")
		}
	})
}

// An API-key session: one login, a refresh only once the access token has
// expired (never a refresh_too_early), the newest pair kept in a FileStore
// that a second session object picks up without logging in, one new login
// when the session's lifetime ends, and Logout ends it on the server.
func TestSDKAPIKeySession(t *testing.T) {
	s, _ := startSDKGateway(t)
	u := patUser(t, s, "acme", "ada@acme.example")
	// 60 s access tokens (the shortest), refreshable from 1 s after issue.
	setTenant(t, s, admin.TenantSettingsInput{AccessTokenTTL: ptr(int64(60)), RefreshSkew: ptr(int64(59))})
	key, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "sdk", UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	w, clock := newSDKWire(t), &sdkClock{}
	store := sdk.FileStore{Path: filepath.Join(t.TempDir(), "session.json")}
	cfg := sdk.APIKeySessionConfig{BaseURL: s.URL, APIKey: key.Key, Store: store, HTTPClient: &http.Client{Transport: w}, Clock: clock,
		OnStoreError: func(err error) { t.Errorf("store: %v", err) }}
	logins := func() int { return len(w.to("/auth/login")) }
	refreshes := func() int { return len(w.to("/auth/refresh")) }
	target := s.URL + "/subs/acme/x"

	sess := sdk.NewAPIKeySession(cfg)
	hc := &http.Client{Transport: &sdk.Transport{Source: sess}}
	for range 3 {
		mustGet(t, hc, target)
	}
	tok := sdkToken(t, sess)
	clock.Advance(tok.Expiry.Sub(clock.Now()) - 5*time.Second) // moments before expiry
	mustGet(t, hc, target)
	if logins() != 1 || refreshes() != 0 {
		t.Fatalf("before expiry: %d logins, %d refreshes; want 1 and 0", logins(), refreshes())
	}
	renew := func(t *testing.T, src *sdk.APIKeySession, hc *http.Client) {
		t.Helper()
		exp := sdkToken(t, src).Expiry
		time.Sleep(1100 * time.Millisecond) // the server's real time reaches the skew window
		clock.pass(exp)
		mustGet(t, hc, target)
		mustGet(t, hc, target)
	}
	for i := 1; i <= 3; i++ {
		renew(t, sess, hc)
		if logins() != 1 || refreshes() != i {
			t.Fatalf("renewal %d: %d logins, %d refreshes; want 1 and %d", i, logins(), refreshes(), i)
		}
	}

	// A restart: a new session object on the same file goes on without a login.
	sess2 := sdk.NewAPIKeySession(cfg)
	hc2 := &http.Client{Transport: &sdk.Transport{Source: sess2}}
	mustGet(t, hc2, target)
	if logins() != 1 || refreshes() != 3 {
		t.Errorf("the stored access token: %d logins, %d refreshes; want 1 and 3", logins(), refreshes())
	}
	renew(t, sess2, hc2)
	if logins() != 1 || refreshes() != 4 {
		t.Errorf("refresh with the stored refresh token: %d logins, %d refreshes; want 1 and 4", logins(), refreshes())
	}

	// The session's lifetime ends (at least 5 minutes in settings; here by
	// moving its end): the refresh is refused and it logs in once more.
	sqlDB := gstore.Unwrap(s.Store).(interface{ SQL() *sql.DB }).SQL()
	if _, err := sqlDB.Exec(`UPDATE refresh_families SET expires_at = $1 WHERE api_key_id = $2 AND revoked_at = 0`,
		time.Now().Add(-time.Second).UnixMicro(), key.ID); err != nil {
		t.Fatal(err)
	}
	clock.pass(sdkToken(t, sess2).Expiry)
	mustGet(t, hc2, target)
	mustGet(t, hc2, target)
	if logins() != 2 || refreshes() != 5 || w.withCode(sdk.CodeSessionExpired) != 1 {
		t.Errorf("after the session's end: %d logins, %d refreshes, %d session_expired; want 2, 5, 1", logins(), refreshes(), w.withCode(sdk.CodeSessionExpired))
	}
	if n := w.withCode(sdk.CodeRefreshTooEarly); n != 0 {
		t.Errorf("the server refused %d refreshes as too early", n)
	}

	// Logout ends the session on the server and forgets it here.
	last := sdkToken(t, sess2)
	if err := sess2.Logout(ctx); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if hops := w.to("/auth/logout"); len(hops) != 1 || hops[0].Status != 204 {
		t.Errorf("logout requests: %+v", hops)
	}
	if r := refreshSession(t, s, last.RefreshToken); r.Status != 400 || r.JSON["error"] != "invalid_grant" {
		t.Errorf("the refresh token after Logout: %d %s", r.Status, r.Body)
	}
	waitFor(t, func() bool { return call(t, s, "GET", "/subs/acme/x", last.AccessToken, nil).Status == 401 })
	if _, err := os.Stat(store.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the store after Logout: %v", err)
	}
}

// sdkToken is src's current token.
func sdkToken(t *testing.T, src sdk.TokenSource) *oauth2.Token {
	t.Helper()
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The authorization code flow: Start's URL carries state and an S256
// challenge of its verifier, a forged callback is refused before any
// exchange, the real one is exchanged, and the Source refreshes after
// expiry, saving each rotated refresh token; the old one is refused.
func TestSDKAuthorizationCode(t *testing.T) {
	s, _ := startSDKGateway(t)
	f := newFlow(t, s)
	w, clock, store := newSDKWire(t), &sdkClock{}, &sdkMemStore{}
	ac := &sdk.AuthorizationCode{Config: *f.conf, Store: store, HTTPClient: &http.Client{Transport: w}, Clock: clock}

	pending := ac.Start()
	authURL, err := url.Parse(pending.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := authURL.Query()
	sum := sha256.Sum256([]byte(pending.Verifier))
	if q.Get("state") != pending.State || pending.State == "" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) || !strings.HasPrefix(pending.URL, s.URL+"/oauth2/authorize?") {
		t.Fatalf("authorize URL %s", pending.URL)
	}
	callback := f.authorize(t, browser(t), pending.URL, true)

	forged := url.Values{"code": {callback.Get("code")}, "state": {"forged"}}
	if _, err := ac.Exchange(ctx, pending, forged); !errors.Is(err, sdk.ErrStateMismatch) {
		t.Fatalf("a callback with another state: %v", err)
	}
	if n := len(w.to("/oauth2/token")); n != 0 {
		t.Fatalf("a forged callback sent %d token requests", n)
	}
	tok, err := ac.Exchange(ctx, pending, callback)
	if err != nil || !strings.HasPrefix(tok.RefreshToken, "gate_rt_") {
		t.Fatalf("Exchange: %+v %v", tok, err)
	}

	src := ac.Source(tok)
	hc := &http.Client{Transport: &sdk.Transport{Source: src}}
	mustGet(t, hc, s.URL+"/subs/acme/x")
	for i := 1; i <= 2; i++ {
		clock.pass(sdkToken(t, src).Expiry)
		for range 3 {
			mustGet(t, hc, s.URL+"/subs/acme/x")
		}
		if n := len(w.to("/oauth2/token")); n != 1+i {
			t.Errorf("after expiry %d: %d token requests, want %d (the exchange and one refresh each)", i, n, 1+i)
		}
	}
	saved := store.refreshTokens()
	if len(saved) < 2 || saved[0] != tok.RefreshToken || saved[len(saved)-1] == tok.RefreshToken || saved[len(saved)-1] != sdkToken(t, src).RefreshToken {
		t.Fatalf("saved refresh tokens %v: want the exchanged one, then each rotated one", saved)
	}
	// The store holds the live one: the one it replaced is refused.
	if r := refresh(t, s, f.client, saved[len(saved)-2]); r.Status != 400 || r.JSON["error"] != "invalid_grant" {
		t.Errorf("the replaced refresh token: %d %s", r.Status, r.Body)
	}
}
