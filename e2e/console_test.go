package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/federation/idptest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// chrome starts headless Chromium for the test and returns its context
// and a screenshot taker: each PNG goes to the test's temp dir and, when
// GATEHOUSE_SCREENSHOTS names a folder, there too.
func chrome(t *testing.T) (context.Context, func(name string)) {
	t.Helper()
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium, chromium-browser or google-chrome on PATH (.ci/run installs Debian's chromium)")
	}
	tctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1200, 900), chromedp.ExecPath(bin))
	actx, cancelA := chromedp.NewExecAllocator(tctx, opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	dirs := []string{t.TempDir()}
	if d := os.Getenv("GATEHOUSE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot %s: %v (%d bytes)", name, err, len(png))
		}
		for _, d := range dirs {
			if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return bctx, shot
}

// signInAs signs in on the console's sign-in page, going on to next
// ("" for the console's start).
func signInAs(s *apptest.Server, email, next string) chromedp.Action[chromedp.Void] {
	u := s.URL + "/console/acme/signin"
	if next != "" {
		u += "?next=" + next
	}
	return chromedp.Steps(
		chromedp.Navigate(u),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), userPassword),
		chromedp.Click(chromedp.CSS("#signin")),
	)
}

// mkUser makes a user of the tenant with the test password and roles.
func mkUser(t *testing.T, s *apptest.Server, tenantID, email string, roles ...string) *store.User {
	t.Helper()
	u, err := s.Users.Create(ctx, tenantID, &users.Patch{Email: ptr(email), Name: ptr(strings.SplitN(email, "@", 2)[0]),
		Password: ptr(userPassword), Roles: &roles}, store.Event{Action: "user.create"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// clickThrough clicks sel (a button that submits a form, or a link) and
// waits for the next page: the current one is marked first, so that an
// element both pages have cannot be mistaken for the new page's.
func clickThrough(sel string) chromedp.Action[chromedp.Void] {
	mark := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`document.body.dataset.stale = "1"; true`)(ctx, t)
		return err
	})
	return chromedp.Steps(mark, chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS("body:not([data-stale])")))
}

// unlabelled lists the visible form controls of the page without a label.
const unlabelled = `Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
	.filter(e => e.labels.length === 0).map(e => e.id || e.name).join(",")`

// The console in a real browser: a user signs in, creates a personal
// access token and reads it once, uses it through the gateway, reloads and
// finds it shown no more, revokes it after a confirmation, and the API
// refuses it. Every input has a label.
func TestConsoleTokensInABrowser(t *testing.T) {
	up := newUpstream(t)
	s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) { c.Routes = submissionsRoutes(t, up.URL) })
	patUser(t, s, "acme", "ada@acme.example")
	b, shot := chrome(t)
	checkLabels := func(page string) {
		t.Helper()
		missing, err := chromedp.Run(b, chromedp.Evaluate[string](unlabelled))
		if err != nil || missing != "" {
			t.Errorf("%s: inputs without a label: %q (%v)", page, missing, err)
		}
	}

	// Signed out, the tokens page sends the browser to sign in.
	if err := chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/acme/tokens"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@acme.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), userPassword),
	); err != nil {
		t.Fatalf("sign-in page: %v", err)
	}
	checkLabels("sign in")
	shot("console-signin.png")
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#create")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	checkLabels("tokens")

	// Create: name, 7 days; the token is on the response page, once.
	if err := chromedp.Do(b,
		chromedp.SendKeys(chromedp.CSS("#name"), "ci export job"),
		chromedp.Click(chromedp.CSS(`input[name=expiry][value="7d"]`)),
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#new-token")),
	); err != nil {
		t.Fatalf("create: %v", err)
	}
	tok, err := chromedp.Run(b, chromedp.Value(chromedp.CSS("#new-token")))
	if err != nil || !strings.HasPrefix(tok, "gate_pat_") {
		t.Fatalf("the new token: %q, %v", tok, err)
	}
	shot("console-token-created.png")
	if r := call(t, s, "GET", "/api/acme/submissions", tok, nil); r.Status != 200 {
		t.Fatalf("the console's token at the gateway: %d %s", r.Status, r.Body)
	}

	// Reload: listed by prefix, the token itself gone.
	if err := chromedp.Do(b, chromedp.Navigate(s.URL+"/console/acme/tokens"), chromedp.WaitVisible(chromedp.CSS("table"))); err != nil {
		t.Fatal(err)
	}
	html, err := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil || strings.Contains(html, tok) || !strings.Contains(html, tok[:13]) || !strings.Contains(html, "ci export job") {
		t.Fatalf("after a reload the page must list the token by prefix only (%v)", err)
	}

	// Revoke, with a confirmation; the API refuses the token at once.
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS("a.danger")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-revoke")),
	); err != nil {
		t.Fatalf("revoke link: %v", err)
	}
	shot("console-revoke.png")
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS("#confirm-revoke")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	); err != nil {
		t.Fatalf("confirm revoke: %v", err)
	}
	if msg, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS("#notice"))); !strings.Contains(msg, "revoked") {
		t.Errorf("after revoking: %q", msg)
	}
	if html, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, "ci export job") {
		t.Error("the revoked token is still listed")
	}
	shot("console-tokens.png")
	if r := call(t, s, "GET", "/api/acme/submissions", tok, nil); r.Status != 401 {
		t.Errorf("the revoked token at the gateway: %d", r.Status)
	}

	// Signing out ends the session for the console.
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(".signout button")),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.Navigate(s.URL+"/console/acme/tokens"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
}

// The console's forms refuse what a browser under attack would send:
// no CSRF token, another site's origin, a redirect off the console; and a
// signed-out or unknown-tenant visit gets sign-in or 404, not data.
func TestConsoleRefusals(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	patUser(t, s, "acme", "ada@acme.example")
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		r, err := noRedirect.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := get("/console/acme/tokens"); r.StatusCode != 303 || r.Header.Get("Location") != "/console/acme/signin?next=%2Fconsole%2Facme%2Ftokens" {
		t.Errorf("signed out: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := get("/console/nope/signin"); r.StatusCode != 404 {
		t.Errorf("unknown tenant: %d", r.StatusCode)
	}
	r := get("/console/acme/signin")
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", r.Header)
	}
	var csrf string
	for _, c := range r.Cookies() {
		if c.Name == "gatehouse_csrf" {
			csrf = c.Value
		}
	}
	signIn := func(form url.Values, cookie, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL+"/console/acme/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.Header.Set("Cookie", "gatehouse_csrf="+cookie)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	good := url.Values{"email": {"ada@acme.example"}, "password": {userPassword}, "csrf": {csrf}, "next": {"https://evil.example/x"}}
	if r := signIn(good, "", ""); r.StatusCode != 403 {
		t.Errorf("no CSRF cookie: %d", r.StatusCode)
	}
	if r := signIn(good, csrf, "https://evil.example"); r.StatusCode != 403 {
		t.Errorf("cross-site: %d", r.StatusCode)
	}
	r = signIn(good, csrf, "")
	if r.StatusCode != 303 || r.Header.Get("Location") != "/console/acme/" {
		t.Errorf("sign in with a foreign next: %d %q (want the console, not the other site)", r.StatusCode, r.Header.Get("Location"))
	}
	bad := url.Values{"email": {"ada@acme.example"}, "password": {"wrong password!"}, "csrf": {csrf}}
	status := 0
	for range 11 {
		status = signIn(bad, csrf, "").StatusCode
	}
	if status != 429 {
		t.Errorf("the 11th wrong password in a row: %d, want 429", status)
	}
}

// Security > Users / Groups > Enable Public API, for several at once, and
// Admin > API keys, by an administrator in a real browser; a program
// member is refused those pages even by URL.
func TestConsoleEnablePublicAPI(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	patUser(t, s, "acme", "ada@acme.example")
	tn, err := s.Admin.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	mkUser(t, s, tn.ID, "boss@acme.example", "super")
	bob, cy := mkUser(t, s, tn.ID, "bob@acme.example", "program_member"), mkUser(t, s, tn.ID, "cy@acme.example", "program_member")
	grp, err := s.Users.CreateGroup(ctx, tn.ID, &users.GroupPatch{Name: ptr("integrators")}, store.Event{Action: "group.create"})
	if err != nil {
		t.Fatal(err)
	}

	// A program member signs in: no admin links, and the page by URL is 403.
	jar := signedInClient(t, s, "ada@acme.example")
	for _, page := range []string{"users", "groups", "keys"} {
		if r, _ := jar.Get(s.URL + "/console/acme/" + page); r == nil || r.StatusCode != 403 {
			t.Fatalf("a program member on %s: %v", page, r)
		}
	}

	b, shot := chrome(t)
	if err := chromedp.Do(b,
		signInAs(s, "boss@acme.example", ""),
		chromedp.WaitVisible(chromedp.CSS("#create")),
		chromedp.Click(chromedp.CSS(`nav a[href$="/users"]`)),
		chromedp.WaitVisible(chromedp.CSS("#enable-api")),
		chromedp.Click(chromedp.CSS("#u-"+bob.ID)),
		chromedp.Click(chromedp.CSS("#u-"+cy.ID)),
	); err != nil {
		t.Fatalf("users page: %v", err)
	}
	shot("console-users.png")
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS("#enable-api")), chromedp.WaitVisible(chromedp.CSS("#notice"))); err != nil {
		t.Fatalf("enable: %v", err)
	}
	for _, u := range []*store.User{bob, cy} {
		got, _ := s.Users.Get(ctx, tn.ID, u.ID)
		if ok, err := s.Users.HasAPIAccess(ctx, got); err != nil || !ok {
			t.Errorf("%s has no API access after Enable Public API: %v", u.Email, err)
		}
	}
	if msg, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS("#notice"))); !strings.Contains(msg, "2 users") {
		t.Errorf("message %q", msg)
	}
	// Search narrows the list (the form is a GET: the URL is the search).
	if err := chromedp.Do(b, chromedp.Navigate(s.URL+"/console/acme/users?q=cy"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-user="`+cy.ID+`"]`))); err != nil {
		t.Fatalf("search: %v", err)
	}
	if q, _ := chromedp.Run(b, chromedp.Value(chromedp.CSS("#q"))); q != "cy" {
		t.Errorf("the search box shows %q", q)
	}
	if html, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("tbody"))); strings.Contains(html, bob.ID) {
		t.Error("the search for cy lists bob")
	}

	// Groups: enable for every member.
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`nav a[href$="/groups"]`)),
		chromedp.WaitVisible(chromedp.CSS("#g-"+grp.ID)),
		chromedp.Click(chromedp.CSS("#g-"+grp.ID)),
		chromedp.Click(chromedp.CSS("#enable-api")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	); err != nil {
		t.Fatalf("groups: %v", err)
	}
	shot("console-groups.png")
	if g, err := s.Users.GetGroup(ctx, tn.ID, grp.ID); err != nil || !g.APIEnabled {
		t.Errorf("group after Enable Public API: %+v, %v", g, err)
	}

	// A user's page: roles and group membership; the last super keeps the role.
	if err := chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/acme/users/"+bob.ID),
		chromedp.WaitVisible(chromedp.CSS("#save-user")),
		chromedp.Click(chromedp.CSS(`input[name=role][value="program_admin"]`)),
		chromedp.Click(chromedp.CSS(`input[name=group][value="`+grp.ID+`"]`)),
		clickThrough("#save-user"),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	); err != nil {
		t.Fatalf("user page: %v", err)
	}
	shot("console-user.png")
	if got, err := s.Users.Get(ctx, tn.ID, bob.ID); err != nil || !slices.Contains(got.Roles, "program_admin") ||
		!slices.Contains(got.Roles, "program_member") || !slices.Contains(got.Groups, grp.ID) {
		t.Errorf("bob after saving: %+v, %v", got, err)
	}
	boss, _ := s.Users.GetByEmail(ctx, tn.ID, "boss@acme.example")
	if err := chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/acme/users/"+boss.ID),
		chromedp.WaitVisible(chromedp.CSS("#save-user")),
		chromedp.Click(chromedp.CSS(`input[name=role][value="super"]`)),
		clickThrough("#save-user"),
		chromedp.WaitVisible(chromedp.CSS(".error")),
	); err != nil {
		t.Fatalf("last super: %v", err)
	}
	if msg, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS(".error"))); !strings.Contains(msg, "last super") {
		t.Errorf("taking super from the last super: %q", msg)
	}

	// The admin API reference: the embedded Redoc renders the OpenAPI
	// document (no CDN: the page's CSP allows only Gatehouse's scripts).
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`nav a[href$="/api"]`)), chromedp.WaitVisible(chromedp.CSS("#redoc"))); err != nil {
		t.Fatalf("API reference: %v", err)
	}
	rendered := false
	for deadline := time.Now().Add(20 * time.Second); !rendered && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		rendered, _ = chromedp.Run(b, chromedp.Evaluate[bool](`document.body.innerText.includes("Create a tenant") && document.body.innerText.includes("/admin/v1/tenants")`))
	}
	if !rendered {
		t.Fatal("the API reference did not render the admin API's operations")
	}
	shot("console-api-reference.png")

	// Admin > API keys: issue one acting as bob, read it once, log in
	// with it; revoke it after the confirmation and the login is refused.
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`nav a[href$="/keys"]`)),
		chromedp.WaitVisible(chromedp.CSS("#create-key")),
		chromedp.SendKeys(chromedp.CSS("#key-name"), "payments backend"),
		chromedp.SetValue(chromedp.CSS("#owner"), "user:"+bob.ID),
		chromedp.Click(chromedp.CSS("#create-key")),
		chromedp.WaitVisible(chromedp.CSS("#new-key")),
	); err != nil {
		t.Fatalf("API keys: %v", err)
	}
	key, err := chromedp.Run(b, chromedp.Value(chromedp.CSS("#new-key")))
	if err != nil || !strings.HasPrefix(key, "gate_ak_") {
		t.Fatalf("the new key %q: %v", key, err)
	}
	shot("console-keys.png")
	if r := post(t, s, "/auth/login", map[string]string{"api_key": key}); r.Status != 200 {
		t.Fatalf("login with the console's key: %d %s", r.Status, r.Body)
	}
	if err := chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/acme/keys"),
		chromedp.WaitVisible(chromedp.CSS("a.danger")),
		chromedp.Click(chromedp.CSS("a.danger")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-revoke")),
		chromedp.Click(chromedp.CSS("#confirm-revoke")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	); err != nil {
		t.Fatalf("revoke the key: %v", err)
	}
	if r := post(t, s, "/auth/login", map[string]string{"api_key": key}); r.Status != 401 {
		t.Errorf("login with the revoked key: %d", r.Status)
	}
	if html, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, key) || !strings.Contains(html, "revoked") {
		t.Error("the keys page must list the revoked key by status, never the key itself")
	}
}

// signedInClient signs in on the console over plain HTTP and returns a
// client carrying the session (redirects not followed).
func signedInClient(t *testing.T, s *apptest.Server, email string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := c.Get(s.URL + "/console/acme/signin")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	var csrf string
	for _, ck := range r.Cookies() {
		if ck.Name == "gatehouse_csrf" {
			csrf = ck.Value
		}
	}
	r, err = c.PostForm(s.URL+"/console/acme/signin", url.Values{"email": {email}, "password": {userPassword}, "csrf": {csrf}})
	if err != nil || r.StatusCode != 303 {
		t.Fatalf("sign in as %s: %v %v", email, r, err)
	}
	r.Body.Close()
	return c
}

// Admin > Settings in a real browser: test the identity provider's
// connection, switch the tenant to OAuth mode (its PATs stop working) and
// back (they work again); a form with an unreadable value saves nothing.
// Then Admin > Activity finds the two changes by filter and exports them.
func TestConsoleSettingsAuthMode(t *testing.T) {
	idp := idptest.New(t)
	up := newUpstream(t)
	s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) {
		c.Routes = submissionsRoutes(t, up.URL)
		c.EgressAllowPrivate = true // the test IdP is on loopback
	})
	ada := patUser(t, s, "acme", "ada@acme.example")
	pat := mintPAT(t, s, ada, "30d")
	tn, _ := s.Admin.GetTenant(ctx, "acme")
	mkUser(t, s, tn.ID, "boss@acme.example", "super")
	if r, _ := signedInClient(t, s, "ada@acme.example").Get(s.URL + "/console/acme/settings"); r == nil || r.StatusCode != 403 {
		t.Fatalf("a program member on Settings: %v", r)
	}
	gw := func() int { return call(t, s, "GET", "/api/acme/submissions", pat.Token, nil).Status }

	b, shot := chrome(t)
	if err := chromedp.Do(b,
		signInAs(s, "boss@acme.example", "/console/acme/settings"),
		chromedp.WaitVisible(chromedp.CSS("#save")),
		chromedp.SendKeys(chromedp.CSS("#idp_issuer"), idp.URL),
		chromedp.SendKeys(chromedp.CSS("#idp_audiences"), "https://api.acme.example"),
		chromedp.SendKeys(chromedp.CSS("#idp_namespace"), "https://acme.example"),
		chromedp.Click(chromedp.CSS("#mode-oauth")),
		clickThrough("#test-idp"),
		chromedp.WaitVisible(chromedp.CSS("#probe")),
	); err != nil {
		t.Fatalf("settings, test connection: %v", err)
	}
	if msg, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS("#probe"))); !strings.Contains(msg, "Reached") || !strings.Contains(msg, "/jwks") {
		t.Fatalf("test connection: %q", msg)
	}
	shot("console-settings.png")
	if err := chromedp.Do(b, clickThrough("#save"), chromedp.WaitVisible(chromedp.CSS("#notice"))); err != nil {
		t.Fatalf("save: %v", err)
	}
	if got, _ := s.Admin.GetTenant(ctx, "acme"); got.Settings.UserAuthMode != "oauth" || got.Settings.IdP.Issuer != idp.URL {
		t.Fatalf("after saving: %+v", got.Settings)
	}
	waitFor(t, func() bool { return gw() == 401 })

	// An unreadable duration: nothing saved, the problem named.
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS("#mode-pat")),
		chromedp.SendKeys(chromedp.CSS("#access_token_ttl"), "soon"),
		clickThrough("#save"),
		chromedp.WaitVisible(chromedp.CSS(".error")),
	); err != nil {
		t.Fatalf("bad form: %v", err)
	}
	if msg, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS(".error"))); !strings.Contains(msg, "access token lifetime") {
		t.Errorf("problem shown: %q", msg)
	}
	if got, _ := s.Admin.GetTenant(ctx, "acme"); got.Settings.UserAuthMode != "oauth" {
		t.Fatalf("a refused form changed the mode: %+v", got.Settings)
	}

	// Back to PATs, from the settings as saved.
	if err := chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/acme/settings"),
		chromedp.WaitVisible(chromedp.CSS("#save")),
		chromedp.Click(chromedp.CSS("#mode-pat")),
		clickThrough("#save"),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	); err != nil {
		t.Fatalf("switch back: %v", err)
	}
	waitFor(t, func() bool { return gw() == 200 })

	// Admin > Activity: the two saves, found by filtering; exported as JSON
	// lines (fetched by the page itself) and as CSV.
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`nav a[href$="/activity"]`)),
		chromedp.WaitVisible(chromedp.CSS("#filter")),
		chromedp.SendKeys(chromedp.CSS("#action"), "tenant.update"),
		chromedp.SetValue(chromedp.CSS("#outcome"), "success"),
		clickThrough("#filter"),
		chromedp.WaitVisible(chromedp.CSS(`#events tr[data-action="tenant.update"]`)),
	); err != nil {
		t.Fatalf("activity: %v", err)
	}
	shot("console-activity.png")
	html, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("#events tbody")))
	if n := strings.Count(html, "<tr"); n != 2 || strings.Contains(html, "user.login") {
		t.Errorf("filtered to tenant.update: %d rows", n)
	}
	// The export links carry the filter (the page's CSP allows it no
	// fetch, so they are followed here with a session of the same user).
	attr, err := chromedp.Run(b, chromedp.AttributeValue(chromedp.CSS("#export-jsonl"), "href"))
	href := attr.Value
	if err != nil || !strings.Contains(href, "action=tenant.update") || !strings.Contains(href, "outcome=success") {
		t.Fatalf("export link %q: %v", href, err)
	}
	boss := signedInClient(t, s, "boss@acme.example")
	resp, err := boss.Get(s.URL + href)
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Count(string(lines), "\n") != 2 || !strings.Contains(string(lines), `"action":"tenant.update"`) {
		t.Errorf("JSON lines export: %q", lines)
	}
	resp, err = boss.Get(s.URL + "/console/acme/activity/export?format=csv&action=user.")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "id,time,actor,action,target,outcome,ip,user_agent,detail\n") ||
		!strings.Contains(string(body), "user.login") || !strings.Contains(resp.Header.Get("Content-Disposition"), ".csv") {
		t.Errorf("CSV export: %d %q", resp.StatusCode, body)
	}
	if r, _ := boss.Get(s.URL + "/console/acme/activity?outcome=maybe"); r == nil || r.StatusCode != 400 {
		t.Errorf("a bad filter: %v", r)
	}
}

// Admin > Integrations in a real browser: create an API configuration
// (secret shown once), the one-active policy refusing a second and a
// non-https redirect refused; a machine client whose secret works at the
// token endpoint, rotated (both secrets work for the overlap) and deleted
// (its secret refused).
func TestConsoleIntegrations(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	patUser(t, s, "acme", "ada@acme.example")
	tn, _ := s.Admin.GetTenant(ctx, "acme")
	mkUser(t, s, tn.ID, "boss@acme.example", "super")
	// No routes here: the operator lets the tenant hand out the scope.
	setTenant(t, s, admin.TenantSettingsInput{OneActiveIntegration: ptr(true),
		HandOut: &admin.HandOutInput{Scopes: &[]string{"submissions:read"}}})
	tokenWith := func(id, secret string) int {
		return postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret).Status
	}
	b, shot := chrome(t)
	values := func() (string, string) {
		t.Helper()
		id, err1 := chromedp.Run(b, chromedp.Value(chromedp.CSS("#client-id")))
		sec, err2 := chromedp.Run(b, chromedp.Value(chromedp.CSS("#client-secret")))
		if err1 != nil || err2 != nil || !strings.HasPrefix(sec, "gate_sk_") {
			t.Fatalf("client %q secret %q: %v %v", id, sec, err1, err2)
		}
		return id, sec
	}
	create := func(name, kind, redirect, scopes string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Navigate(s.URL+"/console/acme/integrations"),
			chromedp.WaitVisible(chromedp.CSS("#create-integration")),
			chromedp.SendKeys(chromedp.CSS("#int-name"), name),
			chromedp.Click(chromedp.CSS("#kind-"+kind)),
			chromedp.SendKeys(chromedp.CSS("#redirect_uri"), redirect),
			chromedp.SendKeys(chromedp.CSS("#scopes"), scopes),
			clickThrough("#create-integration"),
		)
	}
	if err := chromedp.Do(b,
		signInAs(s, "boss@acme.example", "/console/acme/integrations"),
		chromedp.WaitVisible(chromedp.CSS("#one-policy")),
		create("Reporting app", "code", "https://app.example/cb", "submissions:read"),
		chromedp.WaitVisible(chromedp.CSS("#client-secret")),
	); err != nil {
		t.Fatalf("create an API configuration: %v", err)
	}
	shot("console-integration-created.png")
	appID, _ := values()
	if c, err := s.Admin.GetClient(ctx, "acme", appID); err != nil || c.RedirectURIs[0] != "https://app.example/cb" || c.Grants[0] != "authorization_code" {
		t.Fatalf("the API configuration: %+v, %v", c, err)
	}

	for _, bad := range []struct{ name, redirect, want string }{
		{"Second app", "https://app2.example/cb", "one active API configuration"},
		{"Plain app", "http://app3.example/cb", "redirect"},
	} {
		if err := chromedp.Do(b, create(bad.name, "code", bad.redirect, "submissions:read"), chromedp.WaitVisible(chromedp.CSS(".error"))); err != nil {
			t.Fatalf("%s: %v", bad.name, err)
		}
		if msg, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS(".error"))); !strings.Contains(msg, bad.want) {
			t.Errorf("%s: %q, want it to mention %q", bad.name, msg, bad.want)
		}
	}

	// A machine client: its secret works; a reload shows it no more.
	if err := chromedp.Do(b, create("ERP sync", "machine", "", "submissions:read"), chromedp.WaitVisible(chromedp.CSS("#client-secret"))); err != nil {
		t.Fatalf("create a machine client: %v", err)
	}
	erpID, erpSecret := values()
	if st := tokenWith(erpID, erpSecret); st != 200 {
		t.Fatalf("the console's client secret at the token endpoint: %d", st)
	}
	if err := chromedp.Do(b, chromedp.Navigate(s.URL+"/console/acme/integrations"), chromedp.WaitVisible(chromedp.CSS(`tr[data-client="`+erpID+`"]`))); err != nil {
		t.Fatal(err)
	}
	if html, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, erpSecret) {
		t.Fatal("the secret is on the page after a reload")
	}

	// Rotate: both secrets work during the overlap.
	if err := chromedp.Do(b,
		clickThrough(`tr[data-client="`+erpID+`"] a.rotate`),
		clickThrough("#confirm"),
		chromedp.WaitVisible(chromedp.CSS("#client-secret")),
	); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	_, rotated := values()
	if rotated == erpSecret || tokenWith(erpID, rotated) != 200 || tokenWith(erpID, erpSecret) != 200 {
		t.Fatal("after rotating, the new and the previous secret must both work")
	}

	// Delete, after the confirmation: the secret is refused.
	if err := chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/acme/integrations"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-client="`+erpID+`"]`)),
		clickThrough(`tr[data-client="`+erpID+`"] a.danger`),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
	); err != nil {
		t.Fatalf("delete link: %v", err)
	}
	shot("console-integration-delete.png")
	if err := chromedp.Do(b, clickThrough("#confirm"), chromedp.WaitVisible(chromedp.CSS("#notice"))); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitFor(t, func() bool { return tokenWith(erpID, rotated) == 401 })
}

// A company administrator (users:write, but not super) manages users yet
// cannot make anyone super, themselves included.
func TestConsoleNoEscalationToSuper(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	patUser(t, s, "acme", "ada@acme.example")
	tn, _ := s.Admin.GetTenant(ctx, "acme")
	ca := mkUser(t, s, tn.ID, "ca@acme.example", "company_admin")
	c := signedInClient(t, s, "ca@acme.example")
	page := s.URL + "/console/acme/users/" + ca.ID
	r, err := c.Get(page)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("own user page: %v %v", r, err)
	}
	r.Body.Close()
	u, _ := url.Parse(page)
	var csrf string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gatehouse_csrf" {
			csrf = ck.Value
		}
	}
	r, err = c.PostForm(page, url.Values{"csrf": {csrf}, "role": {"company_admin", "super"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 409 || !strings.Contains(string(body), "Only a super user") {
		t.Errorf("a company admin granting super: %d", r.StatusCode)
	}
	if got, _ := s.Users.Get(ctx, tn.ID, ca.ID); slices.Contains(got.Roles, "super") {
		t.Fatal("the company admin made themselves super")
	}
}

// Usage: an integration's requests and rate-limit refusals over the last
// 24 hours, drawn as a chart with the hourly numbers beside it, and when it
// was last used; an idle integration says so. Only tenant owners see it.
func TestConsoleUsage(t *testing.T) {
	s, _, c := startGateway(t, apptest.SQLite(t), []string{"api:read"}, nil)
	idle := setup(t, s, "acme", admin.ClientInput{Name: ptr("Idle sync"), Scopes: &[]string{"api:read"}})
	tok := token(t, s, c, nil)
	codes := map[int]int{}
	for range 5 { // the exports route allows 2 reads a minute
		codes[call(t, s, "GET", "/exports/acme/report", tok, nil).Status]++
	}
	if codes[200] != 2 || codes[429] != 3 {
		t.Fatalf("five reads on a 2/min route: %v, want 2 × 200 and 3 × 429", codes)
	}
	tn, _ := s.Admin.GetTenant(ctx, "acme")
	mkUser(t, s, tn.ID, "boss@acme.example", "super")
	patUser(t, s, "acme", "ada@acme.example")
	if r, _ := signedInClient(t, s, "ada@acme.example").Get(s.URL + "/console/acme/usage"); r == nil || r.StatusCode != 403 {
		t.Fatalf("a program member on Usage: %v", r)
	}

	b, shot := chrome(t)
	card := `section.usage[data-client="` + c.ClientID + `"]`
	if err := chromedp.Do(b, signInAs(s, "boss@acme.example", "/console/acme/usage"), chromedp.WaitVisible(chromedp.CSS(card))); err != nil {
		t.Fatal(err)
	}
	// The counts reach the page with the next usage flush (100 ms here).
	var text string
	waitFor(t, func() bool {
		if err := chromedp.Do(b, chromedp.Navigate(s.URL+"/console/acme/usage"), chromedp.WaitVisible(chromedp.CSS(card))); err != nil {
			t.Fatal(err)
		}
		text, _ = chromedp.Run(b, chromedp.Text(chromedp.CSS(card)))
		return strings.Contains(text, "2 requests, 3 refused")
	})
	if strings.Contains(text, "Last used: never") {
		t.Errorf("the card does not say when the integration was last used: %q", text)
	}
	bars, err := chromedp.Run(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(`+"`"+card+` svg .bar`+"`"+`)).
		filter(g => g.querySelector("rect.rej")).map(g => g.querySelector("title").textContent)`))
	if err != nil || len(bars) != 1 || !strings.Contains(bars[0], "2 let through, 3 refused") {
		t.Fatalf("the chart's bars with refusals: %q, %v; want this hour's, saying 2 let through and 3 refused", bars, err)
	}
	if n, _ := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+card+` svg .bar`+"`"+`).length`)); n != 24 {
		t.Errorf("the chart has %d hourly bars, want 24", n)
	}
	if idleText, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS(`section.usage[data-client="`+idle.ClientID+`"] .idle`))); !strings.Contains(idleText, "No gateway requests") {
		t.Errorf("the idle integration: %q", idleText)
	}
	if bad, err := chromedp.Run(b, chromedp.Evaluate[string](a11yAudit)); err != nil || bad != "" {
		t.Errorf("usage page: %s %v", bad, err)
	}
	shot("console-usage.png")
}

// a11yAudit lists what a page gets wrong of the accessibility basics:
// controls without labels, buttons and links without names, tab order
// taken over, click handlers on non-controls, unlabelled charts.
const a11yAudit = `(() => {
	const bad = [];
	for (const e of document.querySelectorAll("input:not([type=hidden]), select, textarea"))
		if (e.labels.length === 0 && !e.getAttribute("aria-label")) bad.push("unlabelled " + (e.id || e.name));
	for (const e of document.querySelectorAll("button, a[href]"))
		if (!(e.textContent.trim() || e.getAttribute("aria-label"))) bad.push("nameless " + e.outerHTML.slice(0, 60));
	for (const e of document.querySelectorAll("[tabindex]"))
		if (e.tabIndex !== 0) bad.push("tabindex " + e.tabIndex + " on " + e.outerHTML.slice(0, 60));
	for (const e of document.querySelectorAll("[onclick], div[role=button], span[role=button]"))
		bad.push("not a real control " + e.outerHTML.slice(0, 60));
	for (const e of document.querySelectorAll("svg"))
		if (e.getAttribute("role") !== "img" || !e.getAttribute("aria-labelledby")) bad.push("unlabelled chart");
	if (!document.documentElement.lang) bad.push("no lang");
	return bad.join("; ");
})()`

// consolePages are the console's own pages an administrator can open
// (the API reference is Redoc's markup, not ours).
var consolePages = []string{"tokens", "users", "groups", "keys", "settings", "integrations", "usage", "activity"}

// Accessibility basics on every page: each visible control has a label,
// each button a name, no control is taken out of (or jumbled in) the tab
// order, charts are labelled images; and the console works from the
// keyboard alone: sign in by tabbing and typing, create a token with Enter.
func TestConsoleAccessibility(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	patUser(t, s, "acme", "ada@acme.example")
	tn, _ := s.Admin.GetTenant(ctx, "acme")
	boss := mkUser(t, s, tn.ID, "boss@acme.example", "super")
	setup(t, s, "acme", admin.ClientInput{Name: ptr("ERP sync"), Scopes: &[]string{"submissions:read"}})
	b, _ := chrome(t)

	// Tab to the email field, type, Tab, type, Enter.
	if err := chromedp.Do(b, chromedp.Navigate(s.URL+"/console/acme/signin"), chromedp.WaitVisible(chromedp.CSS("#email"))); err != nil {
		t.Fatal(err)
	}
	focused := func() string {
		id, _ := chromedp.Run(b, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
		return id
	}
	for i := 0; focused() != "email"; i++ {
		if i == 10 {
			t.Fatal("ten Tabs from the top of the sign-in page never reach the email field")
		}
		if err := chromedp.Do(b, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(b,
		chromedp.KeyEvent("boss@acme.example\t"+userPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS("#create")),
	); err != nil {
		t.Fatalf("sign in from the keyboard: %v", err)
	}

	for _, page := range append(consolePages, "users/"+boss.ID) {
		if err := chromedp.Do(b, chromedp.Navigate(s.URL+"/console/acme/"+page), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatal(err)
		}
		if title, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS("h1"))); title == "Something went wrong" || title == "Not found" {
			t.Fatalf("%s: %q", page, title)
		}
		if bad, err := chromedp.Run(b, chromedp.Evaluate[string](a11yAudit)); err != nil || bad != "" {
			t.Errorf("%s: %s %v", page, bad, err)
		}
	}

	// Create a token with the keyboard: type a name, press Enter.
	if err := chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/acme/tokens"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.Focus(chromedp.CSS("#name")),
		chromedp.KeyEvent("keyboard job\r"),
		chromedp.WaitVisible(chromedp.CSS("#new-token")),
	); err != nil {
		t.Fatalf("create a token from the keyboard: %v", err)
	}
}
