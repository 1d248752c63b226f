package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// A client of golang.org/x/oauth2 gets a token with either auth style, and
// coreos/go-oidc verifies it through discovery and the JWKS.
func TestClientCredentialsWithOtherPeoplesClients(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
			t.Run(alg, func(t *testing.T) {
				s := apptest.Start(t, db(t), func(c *config.Config) { c.SigningAlg = alg })
				c := setup(t, s, "Acme", admin.ClientInput{
					Scopes:    &[]string{"reports:read", "reports:write"},
					Audiences: &[]string{"https://api.acme.example", "api.acme.example/integration"},
				})
				provider, err := oidc.NewProvider(ctx, s.URL)
				if err != nil {
					t.Fatalf("discovery: %v", err)
				}
				for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
					cc := clientcredentials.Config{
						ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: provider.Endpoint().TokenURL,
						Scopes: []string{"reports:read"}, AuthStyle: style,
						EndpointParams: url.Values{"audience": {"api.acme.example/integration"}},
					}
					tok, err := cc.Token(ctx)
					if err != nil {
						t.Fatalf("auth style %d: %v", style, err)
					}
					if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute {
						t.Fatalf("token type %q expiry %v", tok.TokenType, tok.Expiry)
					}
					v := provider.Verifier(&oidc.Config{ClientID: "api.acme.example/integration"})
					idt, err := v.Verify(ctx, tok.AccessToken)
					if err != nil {
						t.Fatalf("go-oidc verify: %v", err)
					}
					var claims struct {
						ClientID string   `json:"client_id"`
						Scope    string   `json:"scope"`
						Tenant   string   `json:"tenant"`
						Orgs     []string `json:"orgs"`
						Auth     string   `json:"auth"`
						JTI      string   `json:"jti"`
					}
					if err := idt.Claims(&claims); err != nil {
						t.Fatal(err)
					}
					if idt.Subject != c.ClientID || claims.ClientID != c.ClientID || claims.Scope != "reports:read" ||
						claims.Tenant != "Acme" || !slices.Equal(claims.Orgs, []string{"Acme"}) || claims.Auth != "client_credentials" || claims.JTI == "" {
						t.Fatalf("claims: sub=%s %+v", idt.Subject, claims)
					}
					// RFC 9068 §2.1: typ at+jwt, and the key's alg.
					header := decodeSegment(t, tok.AccessToken, 0)
					if header["typ"] != "at+jwt" || header["alg"] != alg || header["kid"] == "" {
						t.Fatalf("JOSE header %v", header)
					}
					// Another audience's verifier must refuse it.
					if _, err := provider.Verifier(&oidc.Config{ClientID: "https://other.example"}).Verify(ctx, tok.AccessToken); err == nil {
						t.Fatal("token verified for an audience it was not issued to")
					}
				}
			})
		}
	})
}

// The Pliant shape: a JSON body with client_id, client_secret, audience
// and grant_type, answered with expires_in.
func TestJSONBodyWithAudience(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "pliant", admin.ClientInput{AccessTokenTTL: ptr(int64(86400)),
		Audiences: &[]string{"api.getpliant.com/api/integration", "https://api.getpliant.com/a", "https://api.getpliant.com/b"}})
	r := postRaw(t, s, "/oauth2/token", "application/json", `{"client_id":"`+c.ClientID+`","client_secret":"`+c.ClientSecret+
		`","audience":"api.getpliant.com/api/integration","grant_type":"client_credentials"}`)
	if r.Status != 200 || r.JSON["expires_in"] != float64(86400) || r.JSON["token_type"] != "Bearer" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	claims := decodeSegment(t, r.JSON["access_token"].(string), 1)
	if claims["aud"] != "api.getpliant.com/api/integration" {
		t.Fatalf("aud %v", claims["aud"])
	}
	// RFC 8707's resource parameter is the standard spelling (absolute URIs),
	// and may be repeated for a token meant for several resources.
	tok := token(t, s, c, url.Values{"resource": {"https://api.getpliant.com/a"}})
	if decodeSegment(t, tok, 1)["aud"] != "https://api.getpliant.com/a" {
		t.Fatal("resource did not set the audience")
	}
	tok = token(t, s, c, url.Values{"resource": {"https://api.getpliant.com/a", "https://api.getpliant.com/b"}})
	if aud := decodeSegment(t, tok, 1)["aud"]; fmt.Sprint(aud) != "[https://api.getpliant.com/a https://api.getpliant.com/b]" {
		t.Fatalf("two resources: aud %v", aud)
	}
}

// The Intigriti shape: form body, default scope, 14-day tokens set per tenant.
func TestTenantDefaultTTL(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	if _, err := s.Admin.CreateTenant(ctx, admin.TenantInput{Name: ptr("intigriti"), Settings: &admin.TenantSettingsInput{AccessTokenTTL: ptr(int64(14 * 24 * 3600))}}); err != nil {
		t.Fatal(err)
	}
	c := setup(t, s, "intigriti", admin.ClientInput{Scopes: &[]string{"external_api"}})
	r := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, c.ClientSecret)
	if r.Status != 200 || r.JSON["expires_in"] != float64(1209600) || r.JSON["scope"] != "external_api" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	// The client's own TTL wins over the tenant's.
	if _, err := s.Admin.UpdateClient(ctx, "intigriti", c.ClientID, admin.ClientInput{AccessTokenTTL: ptr(int64(600))}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		r := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, c.ClientSecret)
		return r.JSON["expires_in"] == float64(600)
	})
}

func decodeSegment(t *testing.T, jwt string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	return decodeB64JSON(t, parts[i])
}

// waitFor polls cond for up to 3 s: replicas see changes within the client
// cache TTL (1 s by default).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 3s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The Pliant shape: "This token is valid for all organizations you have been
// authorized for". A client granted other tenants gets tokens that cover them.
func TestTokenCoversGrantedTenants(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		c := setup(t, s, "partner", admin.ClientInput{})
		orgA := setup(t, s, "org-a", admin.ClientInput{}) // a client of each org, to introspect
		orgB := setup(t, s, "org-b", admin.ClientInput{})
		for _, org := range []string{"org-a", "org-b"} {
			if _, err := s.Admin.GrantTenant(ctx, "partner", c.ClientID, org); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Admin.GrantTenant(ctx, "partner", c.ClientID, "org-a"); err != nil {
			t.Fatalf("granting twice: %v", err)
		}
		if _, err := s.Admin.GrantTenant(ctx, "partner", c.ClientID, "partner"); err == nil {
			t.Fatal("granted the client's own tenant")
		}
		if _, err := s.Admin.GrantTenant(ctx, "partner", c.ClientID, "nope"); err == nil || err.(*admin.Error).Status != 404 {
			t.Fatalf("granting an unknown tenant: %v", err)
		}
		got, _ := s.Admin.GetClient(ctx, "partner", c.ClientID)
		if strings.Join(got.GrantedTenants, ",") != "org-a,org-b" {
			t.Fatalf("granted tenants %v", got.GrantedTenants)
		}
		tok := token(t, s, c, nil)
		if orgs := decodeSegment(t, tok, 1)["orgs"]; fmt.Sprint(orgs) != "[partner org-a org-b]" {
			t.Fatalf("orgs claim %v", orgs)
		}
		// Each covered org's clients may introspect the token.
		for _, caller := range []*admin.Client{orgA, orgB} {
			if r := introspect(t, s, caller, tok); r.JSON["active"] != true || r.JSON["tenant"] != "partner" {
				t.Fatalf("introspect from %s: %s", caller.Tenant, r.Body)
			}
		}
		// Withdrawing a grant takes effect at once for introspection and new tokens.
		if _, err := s.Admin.RevokeTenant(ctx, "partner", c.ClientID, "org-b"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return introspect(t, s, orgB, tok).JSON["active"] == false })
		if fmt.Sprint(decodeSegment(t, token(t, s, c, nil), 1)["orgs"]) != "[partner org-a]" {
			t.Fatal("new tokens still cover the withdrawn tenant")
		}
		evs, _ := s.Admin.Audit(ctx, "partner", admin.AuditQuery{Action: "client.revoke_tenant"})
		if len(evs.Items) != 1 || evs.Items[0].Detail["tenant"] != "org-b" {
			t.Fatalf("audit %+v", evs.Items)
		}
	})
}
