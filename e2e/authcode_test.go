package e2e

import (
	"database/sql"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

const (
	appCallback  = "https://app.example/cb"
	userPassword = "correct horse battery staple"
)

// flow is one user-delegated integration on a running server.
type flow struct {
	s      *apptest.Server
	client *admin.Client
	user   *store.User
	conf   *oauth2.Config
}

func newFlow(t *testing.T, s *apptest.Server) *flow {
	t.Helper()
	// gatehouse:tokens is registered, never asked for unless a test does.
	c := setup(t, s, "acme", admin.ClientInput{Grants: &[]string{"authorization_code"}, RedirectURIs: &[]string{appCallback},
		Scopes: &[]string{"openid", "email", "submissions:read", "submissions:write", "gatehouse:tokens"}})
	ten, err := s.Admin.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Users.Create(ctx, ten.ID, &users.Patch{Email: ptr("Ada@Acme.example"), Name: ptr("Ada"),
		Password: ptr(userPassword), Roles: &[]string{"program_member"}, APIEnabled: ptr(true)}, store.Event{Action: "user.create"})
	if err != nil {
		t.Fatal(err)
	}
	return &flow{s: s, client: c, user: u, conf: &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		RedirectURL: appCallback, Scopes: []string{"openid", "email", "submissions:read", "submissions:write"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/oauth2/authorize", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}}
}

// browser is a cookie-keeping HTTP client that stops at redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// submit posts the page's form with its hidden fields plus extra.
func submit(t *testing.T, b *http.Client, base string, page []byte, extra url.Values) *http.Response {
	t.Helper()
	form := url.Values{}
	for _, m := range hiddenRe.FindAllSubmatch(page, -1) {
		form.Add(string(m[1]), html.UnescapeString(string(m[2])))
	}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := b.PostForm(base+"/oauth2/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authorize runs the browser side: the login page, the consent page, and
// the redirect back; it returns the redirect's query.
func (f *flow) authorize(t *testing.T, b *http.Client, authURL string, login bool) url.Values {
	t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("authorize page: %d %s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("authorize page headers: CSP %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}
	if login {
		if !strings.Contains(string(page), `name="password"`) {
			t.Fatalf("expected the login page, got %s", page)
		}
		resp = submit(t, b, f.s.URL, page, url.Values{"action": {"login"}, "email": {"ada@acme.example"}, "password": {userPassword}})
		page = body(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("login: %d %s", resp.StatusCode, page)
		}
	}
	if !strings.Contains(string(page), `value="allow"`) {
		t.Fatalf("expected the consent page, got %s", page)
	}
	resp = submit(t, b, f.s.URL, page, url.Values{"action": {"consent"}, "decision": {"allow"}})
	body(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %d, want 303", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), appCallback+"?") {
		t.Fatalf("redirect to %q", resp.Header.Get("Location"))
	}
	return loc.Query()
}

func TestAuthorizationCodeFlow(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		f := newFlow(t, s)
		verifier := oauth2.GenerateVerifier()
		b := browser(t)
		q := f.authorize(t, b, f.conf.AuthCodeURL("st-123", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-456")), true)
		if q.Get("state") != "st-123" || q.Get("iss") != s.URL || q.Get("code") == "" {
			t.Fatalf("redirect query %v", q)
		}

		// golang.org/x/oauth2 exchanges the code with the PKCE verifier.
		tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok.RefreshToken, "gate_rt_") || tok.Extra("scope") != "openid email submissions:read" {
			t.Errorf("token response: refresh %q scope %v", tok.RefreshToken, tok.Extra("scope"))
		}
		// The ID token verifies with coreos/go-oidc against discovery.
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, s.HTTP), s.URL)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: f.client.ClientID}).Verify(oidc.ClientContext(ctx, s.HTTP), raw)
		if err != nil {
			t.Fatal(err)
		}
		if idt.Subject != f.user.ID || idt.Nonce != "n-456" {
			t.Errorf("ID token sub %q nonce %q", idt.Subject, idt.Nonce)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
		// userinfo with the access token.
		info, err := provider.UserInfo(oidc.ClientContext(ctx, s.HTTP), oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != f.user.ID || info.Email != "Ada@Acme.example" {
			t.Errorf("userinfo: %+v %v", info, err)
		}
		// The access token says who: the user, through the client.
		if r := introspect(t, s, f.client, tok.AccessToken); r.JSON["sub"] != f.user.ID || r.JSON["auth"] != "authorization_code" {
			t.Errorf("introspection: %s", r.Body)
		}

		// A second use of the code fails and revokes what the first issued.
		if _, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
			t.Errorf("second exchange: %v", err)
		}
		if r := introspect(t, s, f.client, tok.AccessToken); r.JSON["active"] != false {
			t.Errorf("after code reuse the first access token must be revoked: %s", r.Body)
		}
		if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 || r.JSON["error"] != "invalid_grant" {
			t.Errorf("after code reuse the refresh token must be revoked: %d %s", r.Status, r.Body)
		}

		// A second authorization in the same browser skips the login, and
		// the consent page too: the user approved as much before.
		verifier = oauth2.GenerateVerifier()
		q = f.authorizeRemembered(t, b, f.conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(verifier)), false)
		tok, err = f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}

		// Rotation: each refresh returns a new pair and retires the old token.
		r := refresh(t, s, f.client, tok.RefreshToken)
		if r.Status != 200 || r.JSON["refresh_token"] == tok.RefreshToken {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		next := r.JSON["refresh_token"].(string)
		// Reusing the rotated token revokes the family: the new one dies too.
		if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 || !strings.Contains(r.JSON["error_description"].(string), "already used") {
			t.Errorf("reuse: %d %s", r.Status, r.Body)
		}
		if r := refresh(t, s, f.client, next); r.Status != 400 {
			t.Errorf("after reuse the family's current token must fail too: %d %s", r.Status, r.Body)
		}
		events, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "oauth.refresh_reuse"})
		if err != nil || len(events.Items) != 1 {
			t.Errorf("reuse security events: %+v %v", events, err)
		}
	})
}

// Two refreshes racing with one token: one new pair, one invalid_grant.
func TestConcurrentRefresh(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		f := newFlow(t, s)
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(t, browser(t), f.conf.AuthCodeURL("x", oauth2.S256ChallengeOption(verifier)), true)
		tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = refresh(t, s, f.client, tok.RefreshToken).Status
			}()
		}
		wg.Wait()
		ok := 0
		for _, st := range statuses {
			if st == 200 {
				ok++
			} else if st != 400 {
				t.Errorf("status %d", st)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent refreshes with one token succeeded (%v), want exactly 1", ok, n, statuses)
		}
	})
}

func TestAuthorizeRefusals(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	chal := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := url.Values{"response_type": {"code"}, "client_id": {f.client.ClientID}, "redirect_uri": {appCallback},
		"state": {"s"}, "code_challenge": {chal}, "code_challenge_method": {"S256"}}
	with := func(k, v string) string {
		q := url.Values{}
		for kk, vv := range base {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return s.URL + "/oauth2/authorize?" + q.Encode()
	}
	// Never redirected: an unknown client or a redirect URI that is not an
	// exact registered one (RFC 9700 §4.1).
	for name, u := range map[string]string{
		"unknown client":    with("client_id", "gc_nope"),
		"other host":        with("redirect_uri", "https://evil.example/cb"),
		"trailing slash":    with("redirect_uri", appCallback+"/"),
		"case":              with("redirect_uri", "https://APP.example/cb"),
		"userinfo":          with("redirect_uri", "https://app.example@evil.example/cb"),
		"extra query":       with("redirect_uri", appCallback+"?x=1"),
		"repeated param":    with("state", "s") + "&state=t",
		"prefix match":      with("redirect_uri", appCallback+"/../evil"),
		"unicode lookalike": with("redirect_uri", "https://аpp.example/cb"),
	} {
		resp, err := browser(t).Get(u)
		if err != nil {
			t.Fatal(err)
		}
		page := body(t, resp)
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.Contains(string(page), "Cannot continue") {
			t.Errorf("%s: %d Location %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// Sent back to the client with an error once the redirect URI is good.
	for name, tc := range map[string]struct{ u, code string }{
		"no PKCE":       {with("code_challenge", ""), "invalid_request"},
		"plain PKCE":    {with("code_challenge_method", "plain"), "invalid_request"},
		"response_type": {with("response_type", "token"), "unsupported_response_type"},
		"foreign scope": {with("scope", "admin:all"), "invalid_scope"},
	} {
		resp, err := browser(t).Get(tc.u)
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("error") != tc.code || loc.Query().Get("state") != "s" {
			t.Errorf("%s: %d %q, want a 303 with error=%s", name, resp.StatusCode, resp.Header.Get("Location"), tc.code)
		}
	}

	// A wrong password is refused with the same page; a wrong verifier at
	// the token endpoint is invalid_grant.
	b := browser(t)
	resp, _ := b.Get(with("scope", "submissions:read"))
	page := body(t, resp)
	resp = submit(t, b, s.URL, page, url.Values{"action": {"login"}, "email": {"ada@acme.example"}, "password": {"wrong password!!"}})
	if page := body(t, resp); resp.StatusCode != 401 || !strings.Contains(string(page), "not right") {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	// A form without its CSRF token is refused.
	form := url.Values{"action": {"login"}, "email": {"ada@acme.example"}, "password": {userPassword}}
	for k, v := range base {
		form[k] = v
	}
	if resp, _ := b.PostForm(s.URL+"/oauth2/authorize", form); resp.StatusCode != 403 {
		t.Errorf("form without CSRF token: %d", resp.StatusCode)
	}
	// Cross-origin form posts are refused before anything else.
	req, _ := http.NewRequest("POST", s.URL+"/oauth2/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := b.Do(req); resp.StatusCode != 403 {
		t.Errorf("cross-site form post: %d", resp.StatusCode)
	}

	verifier := oauth2.GenerateVerifier()
	q := f.authorize(t, browser(t), f.conf.AuthCodeURL("x", oauth2.S256ChallengeOption(verifier)), true)
	if _, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
		t.Errorf("wrong verifier: %v", err)
	}
}

func refresh(t *testing.T, s *apptest.Server, c *admin.Client, rt string) response {
	t.Helper()
	return postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, c.ClientID, c.ClientSecret)
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// exchange runs a whole authorization for f and returns the tokens. It
// says prompt=consent, so that every call goes through the consent page
// as the first did, whatever the earlier ones left remembered.
func (f *flow) exchange(t *testing.T) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(t, browser(t), f.conf.AuthCodeURL("x", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")), true)
	tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A user's token works through the gateway only while the user has API
// access, checked at request time; deleting the user ends it.
func TestUserTokensThroughTheGateway(t *testing.T) {
	up := newUpstream(t)
	routes := submissionsRoutes(t, up.URL)
	s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) { c.Routes = routes })
	f := newFlow(t, s)
	tok := f.exchange(t)
	get := func() response { return call(t, s, "GET", "/api/acme/submissions", tok.AccessToken, nil) }
	if r := get(); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if in, _ := up.last(t); in.Header.Get("X-Gatehouse-Subject") != f.user.ID || in.Header.Get("X-Gatehouse-Auth") != "authorization_code" {
		t.Errorf("upstream saw %v", in.Header)
	}
	// program_member may read, not write: the token carries only what the
	// user's roles grant, whatever the client asked for.
	if r := call(t, s, "POST", "/api/acme/submissions", tok.AccessToken, strings.NewReader("{}")); r.Status != 403 {
		t.Errorf("write with a read-only role: %d", r.Status)
	}
	// Taking API access away ends the user's authorizations at once on
	// this replica: the token is refused (its family is revoked, so giving
	// access back does not bring it back), and so is its refresh token.
	if err := s.Users.SetAPIEnabled(ctx, f.user.TenantID, []string{f.user.ID}, false, store.Event{Action: "user.api_access"}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "revoked") {
		t.Errorf("after API access was taken: %d %v", r.Status, r.Header)
	}
	if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 {
		t.Errorf("refresh while API access is off: %d %s", r.Status, r.Body)
	}
	if err := s.Users.SetAPIEnabled(ctx, f.user.TenantID, []string{f.user.ID}, true, store.Event{Action: "user.api_access"}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.Status != 401 {
		t.Errorf("the old token after access came back: %d", r.Status)
	}
	if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 {
		t.Errorf("the old refresh token after access came back: %d %s", r.Status, r.Body)
	}
	// A new authorization works; deleting the user ends it at once.
	tok = f.exchange(t)
	if r := get(); r.Status != 200 {
		t.Fatalf("a new authorization: %d %s", r.Status, r.Body)
	}
	if err := s.Users.Delete(ctx, f.user.TenantID, f.user.ID, store.Event{Action: "user.delete"}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.Status != 401 {
		t.Errorf("after the user was deleted: %d", r.Status)
	}
}

func TestRefreshGraceAndRevocation(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) { c.RefreshGrace = 10 * time.Second })
	f := newFlow(t, s)
	tok := f.exchange(t)
	first := refresh(t, s, f.client, tok.RefreshToken)
	if first.Status != 200 {
		t.Fatalf("%d %s", first.Status, first.Body)
	}
	// The response was "lost": the retry within the grace window gets the
	// very same pair, not a third one.
	retry := refresh(t, s, f.client, tok.RefreshToken)
	if retry.Status != 200 || retry.JSON["refresh_token"] != first.JSON["refresh_token"] || retry.JSON["access_token"] != first.JSON["access_token"] {
		t.Fatalf("retry within the grace window: %d %s", retry.Status, retry.Body)
	}
	next := first.JSON["refresh_token"].(string)
	second := refresh(t, s, f.client, next)
	if second.Status != 200 {
		t.Fatalf("%d %s", second.Status, second.Body)
	}
	// Two generations back is reuse even within the window.
	if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 {
		t.Errorf("two generations back: %d %s", r.Status, r.Body)
	}
	if r := refresh(t, s, f.client, second.JSON["refresh_token"].(string)); r.Status != 400 {
		t.Errorf("the family must be revoked after reuse: %d", r.Status)
	}

	// RFC 7009: revoking a refresh token ends its family, access tokens too.
	tok = f.exchange(t)
	if r := postForm(t, s, "/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, f.client.ClientID, f.client.ClientSecret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 {
		t.Errorf("refresh after revocation: %d", r.Status)
	}
	if r := introspect(t, s, f.client, tok.AccessToken); r.JSON["active"] != false {
		t.Errorf("the family's access token after revocation: %s", r.Body)
	}
	// Another client cannot use or revoke this client's refresh token.
	tok = f.exchange(t)
	other := setup(t, s, "acme", admin.ClientInput{Grants: &[]string{"authorization_code"}, RedirectURIs: &[]string{appCallback}})
	if r := refresh(t, s, other, tok.RefreshToken); r.Status != 400 {
		t.Errorf("another client's refresh: %d", r.Status)
	}
	postForm(t, s, "/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, other.ClientID, other.ClientSecret)
	if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 200 {
		t.Errorf("a revocation by another client must not count: %d %s", r.Status, r.Body)
	}
}

// Sign-in is throttled per account: after ten failures in fifteen minutes
// even the right password waits.
func TestLoginThrottle(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	b := browser(t)
	authURL := f.conf.AuthCodeURL("x", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	attempt := func(password string) *http.Response {
		resp, err := b.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		resp = submit(t, b, s.URL, body(t, resp), url.Values{"action": {"login"}, "email": {"ada@acme.example"}, "password": {password}})
		body(t, resp)
		return resp
	}
	for i := range 10 {
		if resp := attempt("not the password"); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := attempt(userPassword)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("11th attempt: %d Retry-After %q, want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The activity log records every failure (written in batches).
	waitFor(t, func() bool {
		events, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "user.login_failed"})
		return err == nil && len(events.Items) == 10
	})
}

// A session ends at its absolute lifetime however often it is refreshed;
// the tenant's settings override the server's lifetime and grace window.
func TestSessionLifetimeAndTenantGrace(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{
		SessionLifetime: ptr(int64(3600)), RefreshGrace: ptr(int64(5))}}); err != nil {
		t.Fatal(err)
	}
	tok := f.exchange(t)
	db := store.Unwrap(s.Store).(interface{ SQL() *sql.DB }).SQL()
	var exp int64
	if err := db.QueryRow(`SELECT expires_at FROM refresh_families`).Scan(&exp); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(time.UnixMicro(exp)); d < 59*time.Minute || d > time.Hour {
		t.Errorf("session lifetime %v, want the tenant's hour", d)
	}
	first := refresh(t, s, f.client, tok.RefreshToken)
	if retry := refresh(t, s, f.client, tok.RefreshToken); retry.Status != 200 || retry.JSON["refresh_token"] != first.JSON["refresh_token"] {
		t.Errorf("the tenant's grace window: %d %s", retry.Status, retry.Body)
	}
	// An hour passes (the clock is the store's: move the family's end).
	if _, err := db.Exec(`UPDATE refresh_families SET expires_at = $1`, time.Now().Add(-time.Second).UnixMicro()); err != nil {
		t.Fatal(err)
	}
	r := refresh(t, s, f.client, first.JSON["refresh_token"].(string))
	if r.Status != 400 || r.JSON["error"] != "invalid_grant" || !strings.Contains(r.JSON["error_description"].(string), "authorize again") {
		t.Errorf("refresh after the session's lifetime: %d %s", r.Status, r.Body)
	}
	if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{RefreshGrace: ptr(int64(61))}}); err == nil {
		t.Error("a grace window over a minute was accepted")
	}
}

// RFC 6749 §4.1.3: a client that named no redirect_uri (it has exactly one
// registered) need not name one at the token endpoint; one that named it
// must repeat it exactly.
func TestRedirectURIOmitted(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	conf := *f.conf
	conf.RedirectURL = ""
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(t, browser(t), conf.AuthCodeURL("x", oauth2.S256ChallengeOption(verifier)), true)
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("no redirect_uri in either request: %v", err)
	}
	verifier = oauth2.GenerateVerifier()
	q = f.authorizeRemembered(t, browser(t), f.conf.AuthCodeURL("x", oauth2.S256ChallengeOption(verifier)), true) // approved above
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("redirect_uri named, then left out: %v", err)
	}
}
