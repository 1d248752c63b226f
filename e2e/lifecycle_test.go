package e2e

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// Introspection (RFC 7662) and revocation (RFC 7009) for both token
// formats, on both backends.
func TestIntrospectAndRevoke(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		for _, format := range []string{"jwt", "opaque"} {
			t.Run(format, func(t *testing.T) {
				c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"read"}, TokenFormat: ptr(format)})
				tok := token(t, s, c, nil)
				if format == "opaque" && !strings.HasPrefix(tok, "gate_at_") {
					t.Fatalf("opaque token %q", tok)
				}
				r := introspect(t, s, c, tok)
				if r.Status != 200 || r.JSON["active"] != true || r.JSON["client_id"] != c.ClientID || r.JSON["scope"] != "read" ||
					r.JSON["tenant"] != "acme" || r.JSON["sub"] != c.ClientID || r.JSON["iss"] != s.URL || r.JSON["token_type"] != "Bearer" {
					t.Fatalf("introspect: %d %s", r.Status, r.Body)
				}
				if exp := r.JSON["exp"].(float64); time.Until(time.Unix(int64(exp), 0)) < 59*time.Minute {
					t.Fatalf("exp %v", exp)
				}
				r = postForm(t, s, "/oauth2/revoke", url.Values{"token": {tok}}, c.ClientID, c.ClientSecret)
				if r.Status != 200 {
					t.Fatalf("revoke: %d %s", r.Status, r.Body)
				}
				// RFC 7662 §2.2: exactly {"active":false}.
				r = introspect(t, s, c, tok)
				if r.Status != 200 || string(r.Body) != "{\"active\":false}\n" {
					t.Fatalf("after revoke: %d %q", r.Status, r.Body)
				}
				// Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
				for _, junk := range []string{tok, "not-a-token", "gate_at_nope", "eyJhbGciOiJub25lIn0.e30."} {
					if r := postForm(t, s, "/oauth2/revoke", url.Values{"token": {junk}}, c.ClientID, c.ClientSecret); r.Status != 200 {
						t.Fatalf("revoke %q: %d %s", junk, r.Status, r.Body)
					}
				}
				evs, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "token.revoke"})
				if err != nil || len(evs.Items) == 0 || evs.Items[0].Actor != "client:"+c.ClientID {
					t.Fatalf("revocation not audited: %+v %v", evs, err)
				}
			})
		}
	})
}

func TestIntrospectionRules(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	a := setup(t, s, "acme", admin.ClientInput{})
	a2 := setup(t, s, "acme", admin.ClientInput{})
	b := setup(t, s, "globex", admin.ClientInput{})
	tok := token(t, s, a, nil)

	// Another client of the same tenant may introspect; revoke is for the owner only.
	if r := introspect(t, s, a2, tok); r.JSON["active"] != true {
		t.Fatalf("same tenant: %s", r.Body)
	}
	if r := postForm(t, s, "/oauth2/revoke", url.Values{"token": {tok}}, a2.ClientID, a2.ClientSecret); r.Status != 400 || r.JSON["error"] != "unauthorized_client" {
		t.Fatalf("revoke by another client: %d %s", r.Status, r.Body)
	}
	// A client of another tenant learns nothing, from introspection or from
	// revocation (200 as for an unknown token), and revokes nothing.
	if r := introspect(t, s, b, tok); string(r.Body) != "{\"active\":false}\n" {
		t.Fatalf("cross-tenant introspection: %s", r.Body)
	}
	if r := postForm(t, s, "/oauth2/revoke", url.Values{"token": {tok}}, b.ClientID, b.ClientSecret); r.Status != 200 {
		t.Fatalf("cross-tenant revoke: %d %s", r.Status, r.Body)
	}
	if r := introspect(t, s, a, tok); r.JSON["active"] != true {
		t.Fatal("a client of another tenant revoked the token")
	}
	for name, junk := range map[string]string{
		"garbage": "garbage", "alg none": "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.",
		"tampered": tok[:len(tok)-4] + "AAAA", "unknown opaque": secret.New(secret.AccessToken), "malformed opaque": "gate_at_0000000000000000000000000000000000000000000000000",
	} {
		if r := introspect(t, s, a, junk); r.Status != 200 || string(r.Body) != "{\"active\":false}\n" {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	// The caller must authenticate; the token parameter is required.
	if r := postForm(t, s, "/oauth2/introspect", url.Values{"token": {tok}}, "", ""); r.Status != 401 || r.JSON["error"] != "invalid_client" {
		t.Fatalf("unauthenticated: %d %s", r.Status, r.Body)
	}
	if r := postForm(t, s, "/oauth2/introspect", url.Values{}, a.ClientID, a.ClientSecret); r.Status != 400 || r.JSON["error"] != "invalid_request" {
		t.Fatalf("no token: %d %s", r.Status, r.Body)
	}
	// A deleted client's tokens are no longer active.
	if err := s.Admin.DeleteClient(ctx, "acme", a.ClientID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return string(introspect(t, s, a2, tok).Body) == "{\"active\":false}\n" })
}

// Rotation keeps two secrets valid until the admin retires the old one.
func TestSecretRotation(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		c := setup(t, s, "acme", admin.ClientInput{})
		old := c.ClientSecret
		rot, err := s.Admin.RotateSecret(ctx, "acme", c.ClientID, admin.RotateInput{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rot.ClientSecret, "gate_sk_") || len(rot.Client.Secrets) != 2 {
			t.Fatalf("rotate: %+v", rot)
		}
		for _, sec := range []string{old, rot.ClientSecret} {
			c.ClientSecret = sec
			token(t, s, c, nil)
		}
		// A third secret needs one retired first.
		if _, err := s.Admin.RotateSecret(ctx, "acme", c.ClientID, admin.RotateInput{}); err == nil || err.(*admin.Error).Status != 409 {
			t.Fatalf("third secret: %v", err)
		}
		// The secret never appears again: not in GET, not in lists.
		got, _ := s.Admin.GetClient(ctx, "acme", c.ClientID)
		list, _ := s.Admin.ListClients(ctx, "acme", "", 0)
		if got.ClientSecret != "" || list.Items[0].ClientSecret != "" {
			t.Fatal("a client secret was returned twice")
		}
		oldID := rot.Client.Secrets[0].ID
		if _, err := s.Admin.RetireSecret(ctx, "acme", c.ClientID, oldID); err != nil {
			t.Fatal(err)
		}
		c.ClientSecret = old
		if r := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, old); r.Status != 401 {
			t.Fatalf("retired secret still works: %d", r.Status)
		}
		// The last secret cannot be retired.
		if _, err := s.Admin.RetireSecret(ctx, "acme", c.ClientID, rot.Secret.ID); err == nil || err.(*admin.Error).Status != 409 {
			t.Fatalf("retire last: %v", err)
		}
		// With previous_expires_in the old secret has an expiry.
		rot2, err := s.Admin.RotateSecret(ctx, "acme", c.ClientID, admin.RotateInput{PreviousExpiresIn: 3600})
		if err != nil || rot2.Client.Secrets[0].ExpiresAt == nil || time.Until(*rot2.Client.Secrets[0].ExpiresAt) > time.Hour {
			t.Fatalf("rotate with expiry: %+v %v", rot2, err)
		}
		evs, _ := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "client."})
		var actions []string
		for _, e := range evs.Items {
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, ",") != "client.rotate_secret,client.retire_secret,client.rotate_secret,client.create" {
			t.Fatalf("audit trail %v", actions)
		}
	})
}

// The per-client issuance quota answers 429 with Retry-After.
func TestIssuanceQuota(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{IssueQuota: &admin.Quota{Count: 2, Per: 3600}})
	token(t, s, c, nil)
	token(t, s, c, nil)
	r := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, c.ClientSecret)
	if r.Status != http.StatusTooManyRequests || r.JSON["error"] != "too_many_requests" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1700 || ra > 1800 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Another client is not affected.
	token(t, s, setup(t, s, "acme", admin.ClientInput{}), nil)
}

// After a key rotation, tokens signed by the old key still verify and new
// ones are signed by the new key.
func TestKeyRotation(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		c := setup(t, s, "acme", admin.ClientInput{})
		before := token(t, s, c, nil)
		k, err := s.Admin.RotateKey(ctx, admin.RotateKeyInput{Alg: "RS256", Immediate: true})
		if err != nil {
			t.Fatal(err)
		}
		after := token(t, s, c, nil)
		if decodeSegment(t, after, 0)["kid"] != k.KID || decodeSegment(t, after, 0)["alg"] != "RS256" {
			t.Fatalf("new token header %v", decodeSegment(t, after, 0))
		}
		provider, err := oidc.NewProvider(ctx, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		v := provider.Verifier(&oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: []string{"ES256", "RS256"}})
		for _, tok := range []string{before, after} {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("verify after rotation: %v", err)
			}
			if r := introspect(t, s, c, tok); r.JSON["active"] != true {
				t.Fatalf("introspect after rotation: %s", r.Body)
			}
		}
		keys, _ := s.Admin.ListKeys(ctx)
		if len(keys) != 2 || !keys[0].Current {
			t.Fatalf("keys %+v", keys)
		}
		evs, _ := s.Admin.Audit(ctx, "", admin.AuditQuery{Action: "key.rotate"})
		if len(evs.Items) != 1 || evs.Items[0].Target != k.KID {
			t.Fatalf("key rotation not audited: %+v", evs.Items)
		}
	})
}

// Issued tokens are counted per client (batched) and in Prometheus metrics.
func TestUsageAndMetrics(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{})
	for range 3 {
		token(t, s, c, nil)
	}
	postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, "wrong")
	waitFor(t, func() bool {
		got, err := s.Admin.GetClient(ctx, "acme", c.ClientID)
		return err == nil && got.TokensIssued == 3 && got.LastUsedAt != nil
	})
	req, _ := http.NewRequest("GET", s.AdminURL()+"/metrics", nil)
	body := string(do(t, s, req).Body)
	for _, want := range []string{
		`gatehouse_token_requests_total{grant_type="client_credentials",outcome="issued"} 3`,
		`gatehouse_token_requests_total{grant_type="client_credentials",outcome="invalid_client"} 1`,
		`gatehouse_http_requests_total{method="POST",route="POST /oauth2/token",server="public",status="200"} 3`,
		`gatehouse_http_request_duration_seconds_bucket{route="POST /oauth2/token",server="public"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
