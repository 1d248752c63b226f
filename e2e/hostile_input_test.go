package e2e

// Issue 15's smaller findings, tried again from the outside: each hostile
// or odd input gets the right status and a machine-readable error, never
// a 500, a redirect or an empty 200.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/federation/idptest"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

func TestHostileInputAnswers(t *testing.T) {
	up := newUpstream(t)
	s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) {
		c.Routes, c.EgressAllowPrivate = submissionsRoutes(t, up.URL), true
	})
	ken := patUser(t, s, "acme", "ken@acme.example")
	pat := mintPAT(t, s, ken, "30d").Token
	raw := func(path string) response {
		req, err := http.NewRequest("GET", s.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+pat)
		return do(t, s, req)
	}

	t.Run("a malformed asset path is 404, not 500", func(t *testing.T) {
		for _, p := range []string{"/console-assets/%ff", "/console-assets/%c3%28", "/console-assets/a/%ff/b.css"} {
			if r := raw(p); r.Status != 404 {
				t.Errorf("%s: %d %s", p, r.Status, r.Body)
			}
		}
	})

	t.Run("dot segments and their look-alikes are 400, never a redirect or a pass", func(t *testing.T) {
		for _, p := range []string{"/api/acme/../acme/submissions", "/api/acme/submissions/./x", "/api/acme/..%20/submissions",
			"/api/acme/..%09/submissions", "/api/acme/...../submissions", "/api/acme/%EF%BC%8E%EF%BC%8E/submissions"} {
			r := raw(p)
			if r.Status != 400 || r.JSON["error"] != "invalid_request" {
				t.Errorf("%s: %d %v %s", p, r.Status, r.Header.Get("Location"), r.Body)
			}
		}
		if up.count() != 0 {
			t.Fatalf("the upstream saw %d of them", up.count())
		}
		if r := raw("/api/acme/submissions/a..b"); r.Status != 200 {
			t.Errorf("a segment with dots inside it: %d", r.Status)
		}
	})

	t.Run("the token endpoint answers a content type it does not take with 400 invalid_request", func(t *testing.T) {
		r := postRaw(t, s, "/oauth2/token", "text/plain", "grant_type=client_credentials")
		if r.Status != 400 || r.JSON["error"] != "invalid_request" {
			t.Errorf("%d %s", r.Status, r.Body)
		}
	})

	t.Run("a far-future expiry is bounded and listings stay whole", func(t *testing.T) {
		r := sendJSON(t, s, "POST", "/auth/tokens", pat, admin.PersonalTokenInput{Name: "far", Expiry: "9999-12-31"})
		if r.Status != 201 || r.JSON["token"] == nil || !strings.HasPrefix(r.JSON["expires_at"].(string), "9999-12-31T23:59:59") {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var list admin.List[admin.PersonalToken]
		if r := call(t, s, "GET", "/auth/tokens", pat, nil); r.Status != 200 || json.Unmarshal(r.Body, &list) != nil || len(list.Items) != 2 {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		if all, err := s.Admin.ListUserTokens(ctx, "acme", ken.ID, true); err != nil || len(all) != 2 {
			t.Fatalf("admin list: %d, %v", len(all), err)
		}
		far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
		if _, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "far", UserID: ken.ID, ExpiresAt: &far}); err != nil {
			t.Fatalf("an API key to the last second: %v", err)
		}
		keys, err := s.Admin.ListAPIKeys(ctx, "acme")
		if err != nil || len(keys) != 1 {
			t.Fatalf("API keys: %d, %v", len(keys), err)
		}
	})

	t.Run("an email look-alike is nobody", func(t *testing.T) {
		kelvin := "\u212Aen@acme.example" // KELVIN SIGN, which Unicode lower-cases to k
		if _, err := s.Admin.CreateUser(ctx, "acme", admin.UserInput{Email: &kelvin, Name: ptr("K")}); err == nil {
			t.Error("a user with a non-ASCII local part was created")
		}
		// Signing in as the look-alike with ken's password is refused.
		f := &flow{s: s, client: setup(t, s, "acme", admin.ClientInput{Grants: &[]string{"authorization_code"},
			RedirectURIs: &[]string{appCallback}, Scopes: &[]string{"openid", "submissions:read"}})}
		b := browser(t)
		q := url.Values{"response_type": {"code"}, "client_id": {f.client.ClientID}, "scope": {"openid"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		resp, err := b.Get(s.URL + "/oauth2/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page := body(t, resp)
		resp = submit(t, b, s.URL, page, url.Values{"action": {"login"}, "email": {kelvin}, "password": {userPassword}})
		if page := string(body(t, resp)); resp.StatusCode != 401 || strings.Contains(page, `value="allow"`) {
			t.Errorf("signing in as the look-alike: %d", resp.StatusCode)
		}
		// An identity provider's token naming the look-alike maps to nobody.
		idp := idptest.New(t)
		if _, err := s.Admin.CreateTenant(ctx, admin.TenantInput{Name: ptr("fed")}); err != nil {
			t.Fatal(err)
		}
		patUser(t, s, "fed", "ken@fed.example")
		if _, err := s.Admin.UpdateTenant(ctx, "fed", admin.TenantInput{Settings: &admin.TenantSettingsInput{UserAuthMode: ptr("oauth"),
			IdP: &admin.IdPSettingsInput{Issuer: &idp.URL, Audiences: &[]string{"api"}, ClaimNamespace: ptr("https://ns")}}}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		claims := func(email string) string {
			return idp.Sign(map[string]any{"iss": idp.URL, "sub": "x", "aud": "api", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
				"https://ns/email": email})
		}
		if r := call(t, s, "GET", "/api/fed/submissions", claims("KEN@fed.example"), nil); r.Status != 200 {
			t.Fatalf("the real user, ASCII case folded: %d %s", r.Status, r.Body)
		}
		if r := call(t, s, "GET", "/api/fed/submissions", claims("\u212Aen@fed.example"), nil); r.Status != 401 ||
			!strings.Contains(r.Header.Get("WWW-Authenticate"), "no user") {
			t.Errorf("the look-alike: %d %v", r.Status, r.Header.Get("WWW-Authenticate"))
		}
	})
}
