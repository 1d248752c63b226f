package e2e

// The eight ways issue 14 found a credential doing more than its holder
// may, each tried again from the attacker's side against the real server.
// The authorization matrix (authz_matrix_test.go) covers the model cell by
// cell; these walk the attacks as they were reported.

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// authzServer is a server with the submissions route for tenant acme.
func authzServer(t *testing.T, mutate func(*config.Config)) *apptest.Server {
	t.Helper()
	up := newUpstream(t)
	return apptest.Start(t, apptest.SQLite(t), func(c *config.Config) {
		c.Routes = submissionsRoutes(t, up.URL)
		if mutate != nil {
			mutate(c)
		}
	})
}

// codeFlow runs the authorization code flow for the flow's client asking
// for scopes and returns the token.
func codeFlow(t *testing.T, f *flow, scopes ...string) *oauth2.Token {
	t.Helper()
	f.conf.Scopes = scopes
	return f.exchange(t)
}

// 1. A delegated token that asked only for openid mints a never-expiring
// PAT with all the user's scopes, lists the user's PATs and revokes them.
func TestAttackDelegatedTokenMintsPATs(t *testing.T) {
	s := authzServer(t, nil)
	f := newFlow(t, s)
	victim := mintPAT(t, s, f.user, "30d")
	tok := codeFlow(t, f, "openid").AccessToken
	for _, r := range []response{
		sendJSON(t, s, "POST", "/auth/tokens", tok, admin.PersonalTokenInput{Name: "backdoor", Expiry: "never"}),
		call(t, s, "GET", "/auth/tokens", tok, nil),
		call(t, s, "DELETE", "/auth/tokens/"+victim.PAT.ID, tok, nil),
	} {
		if r.Status != 403 || r.JSON["error"] != "insufficient_scope" || !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("an openid-only delegated token at /auth/tokens: %d %s", r.Status, r.Body)
		}
	}
	if live, _ := s.PATs.List(ctx, f.user.TenantID, f.user.ID, false); len(live) != 1 {
		t.Fatalf("the user has %d PATs; want only their own", len(live))
	}
	// Even a token the user consented to manage PATs with hands out no
	// more than it has: the PAT it makes carries its scopes, not every
	// role's, and asking for more is refused.
	if _, err := s.Admin.UpdateUser(ctx, "acme", f.user.ID, admin.UserInput{Roles: &[]string{"program_editor"}}); err != nil {
		t.Fatal(err)
	}
	narrow := codeFlow(t, f, "submissions:read", "gatehouse:tokens").AccessToken
	r := sendJSON(t, s, "POST", "/auth/tokens", narrow, admin.PersonalTokenInput{Name: "ci", Expiry: "7d",
		Scopes: &[]string{"submissions:read", "submissions:write"}})
	if r.Status != 403 || !strings.Contains(fmt2(r.JSON["error_description"]), "submissions:write") {
		t.Errorf("asking for a scope the token lacks: %d %s", r.Status, r.Body)
	}
	r = sendJSON(t, s, "POST", "/auth/tokens", narrow, admin.PersonalTokenInput{Name: "ci", Expiry: "7d"})
	if r.Status != 201 {
		t.Fatalf("with gatehouse:tokens: %d %s", r.Status, r.Body)
	}
	pat := r.JSON["token"].(string)
	if got := fmt2(r.JSON["scopes"]); got != "[submissions:read]" {
		t.Errorf("the PAT's scopes: %s; want the creating token's", got)
	}
	if r := call(t, s, "POST", "/api/acme/submissions", pat, strings.NewReader("{}")); r.Status != 403 {
		t.Errorf("the PAT writes though its creator could not: %d", r.Status)
	}
	if r := call(t, s, "GET", "/api/acme/submissions", pat, nil); r.Status != 200 {
		t.Errorf("the PAT reads: %d %s", r.Status, r.Body)
	}
	// The consent page said what gatehouse:tokens means, in words.
	b := browser(t)
	f.conf.Scopes = []string{"gatehouse:tokens"}
	resp, err := b.Get(f.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "consent")))
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	resp = submit(t, b, s.URL, page, url.Values{"action": {"login"}, "email": {"ada@acme.example"}, "password": {userPassword}})
	if page := string(body(t, resp)); !strings.Contains(page, "personal access tokens") || !strings.Contains(page, "keeps working after you remove") {
		t.Errorf("the consent page does not explain gatehouse:tokens: %s", page)
	}
}

// 2. A user's delegated token from tenant A works on tenant B's routes once
// the integration's client is granted B; B's client introspects it active.
func TestAttackUserTokenCrossesTenants(t *testing.T) {
	s := authzServer(t, nil)
	f := newFlow(t, s)
	tok := codeFlow(t, f, "submissions:read").AccessToken
	betaClient := setup(t, s, "beta", admin.ClientInput{Scopes: &[]string{"submissions:read"}})
	if _, err := s.Admin.GrantTenant(ctx, "acme", f.client.ClientID, "beta"); err != nil {
		t.Fatal(err)
	}
	if r := call(t, s, "GET", "/api/beta/submissions", tok, nil); r.Status != 403 || !strings.Contains(fmt2(r.JSON["error_description"]), "beta") {
		t.Errorf("acme's user on beta's route: %d %s", r.Status, r.Body)
	}
	if r := introspect(t, s, betaClient, tok); r.JSON["active"] != false || len(r.JSON) != 1 {
		t.Errorf("beta's client introspects acme's user token: %s", r.Body)
	}
	// The client's own tokens do cover beta: that is what the grant is for.
	m2m := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"submissions:read"}})
	if _, err := s.Admin.GrantTenant(ctx, "acme", m2m.ClientID, "beta"); err != nil {
		t.Fatal(err)
	}
	if r := call(t, s, "GET", "/api/beta/submissions", token(t, s, m2m, nil), nil); r.Status != 200 {
		t.Errorf("a granted client's own token on beta: %d %s", r.Status, r.Body)
	}
}

// 3. Taking a role from a user, or a scope from a client, does not reduce
// what the integration may do: refresh re-mints the original scope.
func TestAttackRefreshOutlivesLostGrants(t *testing.T) {
	s := authzServer(t, nil)
	f := newFlow(t, s)
	if _, err := s.Admin.UpdateUser(ctx, "acme", f.user.ID, admin.UserInput{Roles: &[]string{"program_editor"}}); err != nil {
		t.Fatal(err)
	}
	tok := codeFlow(t, f, "openid", "submissions:read", "submissions:write")
	write := func(at string) int {
		return call(t, s, "POST", "/api/acme/submissions", at, strings.NewReader("{}")).Status
	}
	if st := write(tok.AccessToken); st != 200 {
		t.Fatalf("write before: %d", st)
	}
	// The client loses submissions:write: the live token and every token
	// a refresh mints lose it too.
	if _, err := s.Admin.UpdateClient(ctx, "acme", f.client.ClientID, admin.ClientInput{Scopes: &[]string{"openid", "submissions:read"}}); err != nil {
		t.Fatal(err)
	}
	if st := write(tok.AccessToken); st != 403 {
		t.Errorf("the live token writes after the client lost the scope: %d", st)
	}
	r := refresh(t, s, f.client, tok.RefreshToken)
	if r.Status != 200 || strings.Contains(fmt2(r.JSON["scope"]), "write") {
		t.Fatalf("refresh after the client lost write: %d %s", r.Status, r.Body)
	}
	if st := write(r.JSON["access_token"].(string)); st != 403 {
		t.Errorf("a refreshed token writes: %d", st)
	}
	// Asking for it back at refresh is asking for more than was granted
	// now: it is not minted.
	back := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.JSON["refresh_token"].(string)},
		"scope": {"submissions:write"}}, f.client.ClientID, f.client.ClientSecret)
	if back.Status == 200 && strings.Contains(fmt2(back.JSON["scope"]), "write") {
		t.Errorf("asking for the lost scope at refresh got it: %s", back.Body)
	}
	// The user loses every role that granted the family's API scopes: the
	// next refresh ends the family for good.
	rt := r.JSON["refresh_token"].(string)
	if back.Status == 200 {
		rt = back.JSON["refresh_token"].(string)
	}
	if _, err := s.Admin.UpdateUser(ctx, "acme", f.user.ID, admin.UserInput{Roles: &[]string{"group_member"}}); err != nil {
		t.Fatal(err)
	}
	if r := refresh(t, s, f.client, rt); r.Status != 400 || r.JSON["error"] != "invalid_grant" {
		t.Errorf("refresh after the user lost every granted scope: %d %s", r.Status, r.Body)
	}
	if _, err := s.Admin.UpdateUser(ctx, "acme", f.user.ID, admin.UserInput{Roles: &[]string{"program_editor"}}); err != nil {
		t.Fatal(err)
	}
	if r := refresh(t, s, f.client, rt); r.Status != 400 {
		t.Errorf("the ended family after the role came back: %d %s", r.Status, r.Body)
	}
}

// 4. Opaque access tokens survive every family revocation (refresh reuse,
// code replay, RFC 7009 revocation of the refresh token) and the user's
// deletion: only JWT jtis reached the deny list.
func TestAttackOpaqueTokensSurviveRevocation(t *testing.T) {
	s := authzServer(t, nil)
	f := newFlow(t, s)
	if _, err := s.Admin.UpdateClient(ctx, "acme", f.client.ClientID, admin.ClientInput{TokenFormat: ptr("opaque")}); err != nil {
		t.Fatal(err)
	}
	get := func(at string) int { return call(t, s, "GET", "/api/acme/submissions", at, nil).Status }
	fresh := func() *oauth2.Token {
		tok := codeFlow(t, f, "submissions:read")
		if !strings.HasPrefix(tok.AccessToken, "gate_at_") || get(tok.AccessToken) != 200 {
			t.Fatalf("an opaque code-flow token: %q", tok.AccessToken)
		}
		return tok
	}
	t.Run("refresh reuse", func(t *testing.T) {
		tok := fresh()
		next := refresh(t, s, f.client, tok.RefreshToken)
		if next.Status != 200 {
			t.Fatalf("refresh: %d %s", next.Status, next.Body)
		}
		if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 {
			t.Fatalf("reuse: %d %s", r.Status, r.Body)
		}
		// At once on this replica, the newest token too.
		for _, at := range []string{tok.AccessToken, next.JSON["access_token"].(string)} {
			if st := get(at); st != 401 {
				t.Errorf("an opaque token of the reused family: %d", st)
			}
		}
	})
	t.Run("code replay", func(t *testing.T) {
		f.conf.Scopes = []string{"submissions:read"}
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(t, browser(t), f.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("prompt", "consent")), true)
		tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
			t.Fatal("a replayed code was redeemed")
		}
		if st := get(tok.AccessToken); st != 401 {
			t.Errorf("the opaque token of a replayed code: %d", st)
		}
	})
	t.Run("RFC 7009 revocation of the refresh token", func(t *testing.T) {
		tok := fresh()
		if r := postForm(t, s, "/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, f.client.ClientID, f.client.ClientSecret); r.Status != 200 {
			t.Fatal(r.Status)
		}
		if st := get(tok.AccessToken); st != 401 {
			t.Errorf("the opaque token of a revoked family: %d", st)
		}
	})
	t.Run("user deleted", func(t *testing.T) {
		tok := fresh()
		if err := s.Admin.DeleteUser(ctx, "acme", f.user.ID); err != nil {
			t.Fatal(err)
		}
		if st := get(tok.AccessToken); st != 401 {
			t.Errorf("the opaque token of a deleted user: %d", st)
		}
		if r := introspect(t, s, f.client, tok.AccessToken); r.JSON["active"] != false {
			t.Errorf("introspection of a deleted user's opaque token: %s", r.Body)
		}
	})
}

// consolePost signs in as email and posts form to path (after a GET of
// page for the CSRF cookie); it returns the status and the page.
func consolePost(t *testing.T, s *apptest.Server, email, page, path string, form url.Values) (int, string) {
	t.Helper()
	c := signedInClient(t, s, email)
	r, err := c.Get(s.URL + page)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	u, _ := url.Parse(s.URL + page)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gatehouse_csrf" {
			form.Set("csrf", ck.Value)
		}
	}
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.URL)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// 5. A company admin binds an API key to the tenant's super user in the
// console, logs in with it and acts as super.
func TestAttackAPIKeyForSomeoneMorePowerful(t *testing.T) {
	s := authzServer(t, nil)
	patUser(t, s, "acme", "ada@acme.example")
	tn, _ := s.Admin.GetTenant(ctx, "acme")
	boss := mkUser(t, s, tn.ID, "boss@acme.example", "super")
	editor := mkUser(t, s, tn.ID, "ed@acme.example", "program_editor")
	member := mkUser(t, s, tn.ID, "mo@acme.example", "program_member")
	mkUser(t, s, tn.ID, "ca@acme.example", "company_admin")
	writer := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"submissions:write"}})
	for _, c := range []struct {
		name, owner string
		want        int
	}{
		{"the super user", "user:" + boss.ID, 403},
		{"a user whose roles grant what the admin's do not (submissions:write)", "user:" + editor.ID, 403},
		{"a client with a scope the admin lacks", "client:" + writer.ClientID, 403},
		{"a user whose roles grant no more than the admin's", "user:" + member.ID, 200},
	} {
		st, page := consolePost(t, s, "ca@acme.example", "/console/acme/keys", "/console/acme/keys",
			url.Values{"name": {"k"}, "owner": {c.owner}})
		if st != c.want {
			t.Errorf("a company admin makes a key for %s: %d, want %d", c.name, st, c.want)
		}
		if c.want == 403 && strings.Contains(page, "gate_ak_") {
			t.Errorf("a refused key for %s is on the page", c.name)
		}
	}
	keys, err := s.Admin.ListAPIKeys(ctx, "acme")
	if err != nil || len(keys) != 1 || keys[0].UserID != member.ID {
		t.Fatalf("keys made: %+v, %v", keys, err)
	}
	// The super user may; so may the operator.
	if st, _ := consolePost(t, s, "boss@acme.example", "/console/acme/keys", "/console/acme/keys",
		url.Values{"name": {"k"}, "owner": {"user:" + boss.ID}}); st != 200 {
		t.Errorf("super makes a key for themselves: %d", st)
	}
	if _, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "ops", UserID: boss.ID}); err != nil {
		t.Errorf("the operator makes a key for super: %v", err)
	}
	// Whoever makes it, a key acts within its holder: the operator's key
	// for the member reads and cannot write.
	if err := s.Users.SetAPIEnabled(ctx, tn.ID, []string{member.ID}, true, store.Event{Action: "user.enable_api"}); err != nil {
		t.Fatal(err)
	}
	opKey, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "member's", UserID: member.ID})
	if err != nil {
		t.Fatal(err)
	}
	sess := login(t, s, opKey.Key)
	if r := call(t, s, "GET", "/api/acme/submissions", sess.access, nil); r.Status != 200 {
		t.Errorf("the member's key reads: %d %s", r.Status, r.Body)
	}
	if r := call(t, s, "POST", "/api/acme/submissions", sess.access, strings.NewReader("{}")); r.Status != 403 {
		t.Errorf("the member's key, made by the operator, writes: %d", r.Status)
	}
	// Nor can the admin hand out a role beyond their own.
	st, _ := consolePost(t, s, "ca@acme.example", "/console/acme/users/"+member.ID, "/console/acme/users/"+member.ID,
		url.Values{"role": {"program_member", "program_editor"}})
	if got, _ := s.Users.Get(ctx, tn.ID, member.ID); st == 303 || slices.Contains(got.Roles, "program_editor") {
		t.Errorf("a company admin grants program_editor (submissions:write): %d, roles %v", st, got.Roles)
	}
}

// 6. A tenant's company admin creates clients with any scope and audience,
// reaching operator-only routes (no {tenant}) and audience-pinned ones.
func TestAttackTenantAdminHandsOutAnything(t *testing.T) {
	up := newUpstream(t)
	routes := writeRoutes(t, t.TempDir(), `
routes:
  - name: submissions
    prefix: /api/{tenant}/submissions
    upstream: `+up.URL+`
    read_scope: submissions:read
    write_scope: submissions:write
  - name: ops
    prefix: /ops
    upstream: `+up.URL+`
    read_scope: ops:read
  - name: billing
    prefix: /billing/{tenant}
    upstream: `+up.URL+`
    read_scope: billing:read
    audiences: [https://billing.example]
`)
	s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) { c.Routes = routes })
	patUser(t, s, "acme", "ada@acme.example")
	tn, _ := s.Admin.GetTenant(ctx, "acme")
	mkUser(t, s, tn.ID, "boss@acme.example", "super")
	create := func(scopes, audiences string) (int, string) {
		return consolePost(t, s, "boss@acme.example", "/console/acme/integrations", "/console/acme/integrations",
			url.Values{"name": {"x"}, "kind": {"machine"}, "scopes": {scopes}, "audiences": {audiences}})
	}
	for _, c := range []struct{ name, scopes, audiences string }{
		{"an operator route's scope", "ops:read", ""},
		{"an audience no route of theirs names", "submissions:read", "https://other.example"},
		{"a scope nothing uses", "admin:everything", ""},
	} {
		if st, page := create(c.scopes, c.audiences); st != 403 || !strings.Contains(page, "operator") {
			t.Errorf("%s: %d", c.name, st)
		}
	}
	// What the tenant's routes use is theirs to hand out.
	if st, _ := create("submissions:read billing:read", "https://billing.example"); st != 200 {
		t.Errorf("the tenant routes' scopes and audience: %d", st)
	}
	// The operator may widen a tenant's hand-out, and always hands out
	// anything through the admin API.
	if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{
		HandOut: &admin.HandOutInput{Scopes: &[]string{"submissions:read", "ops:read"}}}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := create("ops:read", ""); st != 200 {
		t.Errorf("a scope the operator handed out: %d", st)
	}
	if st, _ := create("billing:read", ""); st != 403 {
		t.Errorf("a scope the operator's list leaves out: %d", st)
	}
	ten, err := s.Admin.GetTenant(ctx, "acme")
	if err != nil || ten.Settings.HandOut.FromRoutes || !slices.Contains(ten.Settings.HandOut.Scopes, "ops:read") {
		t.Errorf("the hand-out reads back %+v, %v", ten.Settings.HandOut, err)
	}
	if _, err := s.Admin.CreateClient(ctx, "acme", admin.ClientInput{Name: ptr("ops"), Scopes: &[]string{"admin:everything"}}); err != nil {
		t.Errorf("the operator: %v", err)
	}
}

// 7. A tenant's (and a user's own) budgets apply to its clients only: PATs,
// IdP tokens and user-bound API-key sessions got the server defaults.
func TestAttackBudgetsOnlyForClients(t *testing.T) {
	s := authzServer(t, nil)
	ada := patUser(t, s, "acme", "ada@acme.example")
	bob := patUser(t, s, "acme", "bob@acme.example")
	adaPAT, bobPAT := mintPAT(t, s, ada, "30d").Token, mintPAT(t, s, bob, "30d").Token
	key, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "k", UserID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	sess := login(t, s, key.Key)
	get := func(tok string) response { return call(t, s, "GET", "/api/acme/submissions", tok, nil) }
	// A user's own override.
	if _, err := s.Admin.UpdateUser(ctx, "acme", ada.ID, admin.UserInput{RateLimits: &admin.RateLimitsInput{Read: &admin.Quota{Count: 1, Per: 3600}}}); err != nil {
		t.Fatal(err)
	}
	if r := get(adaPAT); r.Status != 200 || !strings.Contains(r.Header.Get("RateLimit-Policy"), `"read";q=1;w=3600`) {
		t.Fatalf("ada's PAT under her own budget: %d %v", r.Status, r.Header.Get("RateLimit-Policy"))
	}
	if r := get(adaPAT); r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Errorf("ada's second call: %d", r.Status)
	}
	if r := get(bobPAT); r.Status != 200 || !strings.Contains(r.Header.Get("RateLimit-Policy"), `"read";q=600`) {
		t.Errorf("bob's PAT, untouched: %d %v", r.Status, r.Header.Get("RateLimit-Policy"))
	}
	// The tenant's: bob's PAT and his API-key session, each its own budget.
	if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{
		RateLimits: &admin.RateLimitsInput{Read: &admin.Quota{Count: 2, Per: 3600}}}}); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"bob's PAT": bobPAT, "bob's API-key session": sess.access} {
		statuses := []int{get(tok).Status, get(tok).Status, get(tok).Status}
		if statuses[2] != 429 || !strings.Contains(get(tok).Header.Get("RateLimit-Policy"), `"read";q=2;w=3600`) {
			t.Errorf("%s under the tenant's budget: %v", name, statuses)
		}
	}
}

// 8 is a cost, measured rather than tested: BenchmarkRevoke in
// internal/revocation (one revocation with 1k and 1M live entries) and the
// figures in docs/performance.md.

// At once on this replica: after refresh reuse is detected the session's
// newest access token was still accepted for up to a second.
func TestAttackNewestTokenAfterReuse(t *testing.T) {
	s := authzServer(t, nil)
	f := newFlow(t, s)
	tok := codeFlow(t, f, "submissions:read")
	next := refresh(t, s, f.client, tok.RefreshToken)
	if next.Status != 200 {
		t.Fatal(next.Status)
	}
	newest := next.JSON["access_token"].(string)
	if r := call(t, s, "GET", "/api/acme/submissions", newest, nil); r.Status != 200 {
		t.Fatalf("newest before: %d", r.Status)
	}
	if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 {
		t.Fatalf("reuse: %d", r.Status)
	}
	if r := call(t, s, "GET", "/api/acme/submissions", newest, nil); r.Status != 401 {
		t.Errorf("the newest token right after reuse was detected: %d", r.Status)
	}
	if r := introspect(t, s, f.client, newest); r.JSON["active"] != false {
		t.Errorf("introspection right after reuse: %s", r.Body)
	}
}

// An integration made in the console belongs to the administrator who made
// it (Intigriti: the user who ran the wizard authorizes it).
func TestConsoleIntegrationHasAnOwner(t *testing.T) {
	s := authzServer(t, nil)
	other := patUser(t, s, "acme", "ada@acme.example")
	tn, _ := s.Admin.GetTenant(ctx, "acme")
	boss := mkUser(t, s, tn.ID, "boss@acme.example", "super")
	st, _ := consolePost(t, s, "boss@acme.example", "/console/acme/integrations", "/console/acme/integrations",
		url.Values{"name": {"Reporting"}, "kind": {"api_configuration"}, "redirect_uri": {appCallback}, "scopes": {"submissions:read"}})
	if st != 200 {
		t.Fatalf("create: %d", st)
	}
	cs, err := s.Admin.ListClients(ctx, "acme", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var app *admin.Client
	for i := range cs.Items {
		if cs.Items[i].Name == "Reporting" {
			app = &cs.Items[i]
		}
	}
	if app == nil || app.OwnerUserID != boss.ID {
		t.Fatalf("the console's API configuration: %+v (want owner %s, not %s)", app, boss.ID, other.ID)
	}
}

func fmt2(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = p.(string)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case string:
		return x
	}
	return ""
}
