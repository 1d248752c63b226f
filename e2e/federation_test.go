package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/federation/idptest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

const idpNS = "https://acme.example"

// A tenant federated with its own identity provider: in oauth mode the
// gateway and introspection accept the IdP's tokens for users with API
// access and refuse each kind of bad token with its own reason, while the
// tenant's PATs are refused; switching back to pat mode restores the PATs
// and refuses the IdP's tokens. Both backends.
func TestFederationWithTheTenantsIdP(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		idp := idptest.New(t)
		up := newUpstream(t)
		s := apptest.Start(t, db(t), func(c *config.Config) {
			c.Routes = submissionsRoutes(t, up.URL)
			c.EgressAllowPrivate = true // the test IdP is on loopback
		})
		ada := patUser(t, s, "acme", "ada@acme.example")
		patUser(t, s, "beta", "bob@beta.example")
		quiet := patUser(t, s, "acme", "quiet@acme.example")
		if err := s.Users.SetAPIEnabled(ctx, quiet.TenantID, []string{quiet.ID}, false, store.Event{Action: "user.api_access"}); err != nil {
			t.Fatal(err)
		}
		pat := mintPAT(t, s, ada, "30d")
		now := time.Now()
		claims := func(edit func(map[string]any)) map[string]any {
			c := map[string]any{"iss": idp.URL, "sub": "idp|ada", "aud": "https://api.acme.example",
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), idpNS + "/email": "Ada@Acme.Example"}
			if edit != nil {
				edit(c)
			}
			return c
		}
		good := idp.Sign(claims(nil))
		get := func(tok string) response { return call(t, s, "GET", "/api/acme/submissions", tok, nil) }

		// pat mode (the default): the PAT works, the IdP's token does not.
		if r := get(pat.Token); r.Status != 200 {
			t.Fatalf("PAT in pat mode: %d %s", r.Status, r.Body)
		}
		if r := get(good); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "user_auth_mode pat") {
			t.Fatalf("IdP token in pat mode: %d %v", r.Status, r.Header.Get("WWW-Authenticate"))
		}

		// oauth mode needs the IdP named; test the connection first.
		if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{UserAuthMode: ptr("oauth")}}); err == nil ||
			!strings.Contains(err.Error(), "needs idp.issuer") {
			t.Fatalf("oauth mode without an IdP: %v", err)
		}
		probe, err := s.Admin.TestIdP(ctx, "acme", idp.URL)
		if err != nil || !probe.OK || probe.JWKSURI != idp.URL+"/jwks" || len(probe.KeyIDs) != 1 {
			t.Fatalf("TestIdP = %+v, %v", probe, err)
		}
		if probe, err := s.Admin.TestIdP(ctx, "acme", "https://127.0.0.1:1"); err != nil || probe.OK || probe.Error == "" {
			t.Fatalf("TestIdP of nothing = %+v, %v", probe, err)
		}
		ten, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{UserAuthMode: ptr("oauth"),
			IdP: &admin.IdPSettingsInput{Issuer: &idp.URL, Audiences: &[]string{"https://api.acme.example"}, ClaimNamespace: ptr(idpNS)}}})
		if err != nil || ten.Settings.UserAuthMode != "oauth" || ten.Settings.IdP.Issuer != idp.URL {
			t.Fatalf("switch to oauth: %+v, %v", ten, err)
		}

		waitFor(t, func() bool { return get(good).Status == 200 })
		if in, _ := up.last(t); in.Header.Get("X-Gatehouse-Subject") != ada.ID || in.Header.Get("X-Gatehouse-Auth") != "idp" {
			t.Errorf("upstream saw %v", in.Header)
		}
		if r := get(pat.Token); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "turned off") {
			t.Errorf("PAT in oauth mode: %d %v", r.Status, r.Header.Get("WWW-Authenticate"))
		}
		// An IdP token is no credential of Gatehouse's the user owns: it
		// neither lists nor makes PATs (the console does, signed in).
		self := idp.Sign(claims(func(c map[string]any) { c[idpNS+"/tenant"] = "acme" }))
		if r := call(t, s, "GET", "/auth/tokens", self, nil); r.Status != 403 || r.JSON["error"] != "insufficient_scope" {
			t.Errorf("listing PATs with an IdP token: %d %s", r.Status, r.Body)
		}
		if r := sendJSON(t, s, "POST", "/auth/tokens", self, admin.PersonalTokenInput{Name: "x", Expiry: "7d"}); r.Status != 403 {
			t.Errorf("creating a PAT with an IdP token: %d %s", r.Status, r.Body)
		}
		// The token is for acme only, whatever route it is shown on.
		if r := call(t, s, "GET", "/api/beta/submissions", good, nil); r.Status != 401 {
			t.Errorf("acme's IdP token on beta's route: %d %s", r.Status, r.Body)
		}

		stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, _ := x509.MarshalPKIXPublicKey(&stranger.PublicKey)
		for _, c := range []struct {
			name   string
			token  string
			status int
			reason string
		}{
			{"wrong issuer", idp.Sign(claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), 401, "not this tenant's identity provider"},
			{"wrong audience", idp.Sign(claims(func(c map[string]any) { c["aud"] = "https://api.other.example" })), 401, "audience"},
			{"alg none", idptest.Unsigned(claims(nil)), 401, "unsigned (alg none)"},
			{"HS256", idptest.HMAC(pub, "", claims(nil)), 401, "only asymmetric"},
			{"expired", idp.Sign(claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), 401, "expired"},
			{"not yet valid", idp.Sign(claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), 401, "not valid yet"},
			{"unknown key", idptest.SignWith(stranger, "rogue", claims(nil)), 401, "does not publish"},
			{"tenant claim of another tenant", idp.Sign(claims(func(c map[string]any) { c[idpNS+"/tenant"] = "beta" })), 401, "does not name this tenant"},
			{"tenant claim in the wrong case", idp.Sign(claims(func(c map[string]any) { c[idpNS+"/tenant"] = "ACME" })), 401, "does not name this tenant"},
			{"no such user", idp.Sign(claims(func(c map[string]any) { c[idpNS+"/email"] = "nobody@acme.example" })), 401, "no user of this tenant"},
			{"user without API access", idp.Sign(claims(func(c map[string]any) { c[idpNS+"/email"] = quiet.Email })), 403, "no API access"},
		} {
			r := get(c.token)
			h := r.Header.Get("WWW-Authenticate")
			if r.Status != c.status || !strings.Contains(h, c.reason) || !strings.Contains(fmt.Sprint(r.JSON["error_description"]), c.reason) {
				t.Errorf("%s: %d %q %s", c.name, r.Status, h, r.Body)
			}
			if c.status == 401 && !strings.Contains(h, `error="invalid_token"`) {
				t.Errorf("%s: not an RFC 6750 invalid_token challenge: %q", c.name, h)
			}
		}

		// Introspection by a client of the tenant; other tenants learn nothing.
		mine := setup(t, s, "acme", admin.ClientInput{})
		theirs := setup(t, s, "beta", admin.ClientInput{})
		r := introspect(t, s, mine, good)
		if r.JSON["active"] != true || r.JSON["username"] != "Ada@Acme.Example" || r.JSON["sub"] != ada.ID || r.JSON["auth"] != "idp" ||
			r.JSON["iss"] != idp.URL || r.JSON["tenant"] != "acme" {
			t.Errorf("introspection by acme: %s", r.Body)
		}
		for name, tok := range map[string]string{"beta's client": good, "expired": idp.Sign(claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }))} {
			caller := mine
			if name == "beta's client" {
				caller = theirs
			}
			if r := introspect(t, s, caller, tok); strings.TrimSpace(string(r.Body)) != `{"active":false}` {
				t.Errorf("introspection, %s: %s", name, r.Body)
			}
		}

		// Back to pat mode: the PAT works again, the IdP token no longer.
		if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{UserAuthMode: ptr("pat")}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return get(pat.Token).Status == 200 })
		if r := get(good); r.Status != 401 {
			t.Errorf("IdP token after switching back: %d", r.Status)
		}
	})
}
