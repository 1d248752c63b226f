package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// Every RFC 6749 §5.2 error the token endpoint gives, and the malformed
// bodies it refuses.
func TestTokenEndpointErrors(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"read", "write"}, Audiences: &[]string{"https://api.acme.example"}})
	other := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"read"}})
	basic := func(id, sec string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(sec)))
	}
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	good := []string{"client_id", c.ClientID, "client_secret", c.ClientSecret}
	with := func(kv ...string) string { return form(append(append([]string{}, good...), kv...)...) }
	wrongSecret := secret.New(secret.ClientSecret) // well formed, nobody's
	badChecksum := strings.Replace(c.ClientSecret, c.ClientSecret[10:12], "zz", 1)

	cases := []struct {
		name        string
		method      string
		contentType string
		authz       string
		body        string
		status      int
		code        string
		challenge   string // expected WWW-Authenticate prefix
	}{
		{"grant_type missing (§4.4.2 REQUIRED)", "POST", "application/x-www-form-urlencoded", "", form(good...), 400, "invalid_request", ""},
		{"unknown grant_type", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "password"), 400, "unsupported_grant_type", ""},
		{"scope the client does not have", "POST", "application/x-www-form-urlencoded", "", form("grant_type", "client_credentials", "client_id", other.ClientID, "client_secret", other.ClientSecret, "scope", "write"), 400, "invalid_scope", ""},
		{"scope not allowed", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "scope", "admin"), 400, "invalid_scope", ""},
		{"malformed scope", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "scope", "read \"x"), 400, "invalid_scope", ""},
		{"audience not registered (RFC 8707 §2)", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "audience", "https://evil.example"), 400, "invalid_target", ""},
		{"resource not registered", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "resource", "https://evil.example"), 400, "invalid_target", ""},
		{"resource not registered beside a registered audience", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "audience", "https://api.acme.example", "resource", "https://x.example"), 400, "invalid_target", ""},
		{"resource not an absolute URI (RFC 8707 §2)", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "resource", "api.acme.example"), 400, "invalid_target", ""},
		{"resource with a fragment", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "resource", "https://api.acme.example#x"), 400, "invalid_target", ""},
		{"no client credentials", "POST", "application/x-www-form-urlencoded", "", form("grant_type", "client_credentials"), 401, "invalid_client", "Basic"},
		{"unknown client (post)", "POST", "application/x-www-form-urlencoded", "", form("grant_type", "client_credentials", "client_id", "nobody", "client_secret", c.ClientSecret), 401, "invalid_client", "Basic"},
		{"wrong secret (post)", "POST", "application/x-www-form-urlencoded", "", form("grant_type", "client_credentials", "client_id", c.ClientID, "client_secret", wrongSecret), 401, "invalid_client", "Basic"},
		{"malformed secret: bad checksum", "POST", "application/x-www-form-urlencoded", "", form("grant_type", "client_credentials", "client_id", c.ClientID, "client_secret", badChecksum), 401, "invalid_client", "Basic"},
		{"malformed client id", "POST", "application/x-www-form-urlencoded", "", form("grant_type", "client_credentials", "client_id", "a\x00b", "client_secret", c.ClientSecret), 401, "invalid_client", "Basic"},
		{"secret of another client", "POST", "application/x-www-form-urlencoded", "", form("grant_type", "client_credentials", "client_id", c.ClientID, "client_secret", other.ClientSecret), 401, "invalid_client", "Basic"},
		{"wrong secret (basic) gets a Basic challenge", "POST", "application/x-www-form-urlencoded", basic(c.ClientID, wrongSecret), form("grant_type", "client_credentials"), 401, "invalid_client", "Basic"},
		{"unknown client (basic)", "POST", "application/x-www-form-urlencoded", basic("nobody", "x"), form("grant_type", "client_credentials"), 401, "invalid_client", "Basic"},
		{"malformed basic", "POST", "application/x-www-form-urlencoded", "Basic !!!", form("grant_type", "client_credentials"), 401, "invalid_client", "Basic"},
		{"bearer instead of basic", "POST", "application/x-www-form-urlencoded", "Bearer abc", form("grant_type", "client_credentials"), 401, "invalid_client", "Basic"},
		{"two auth methods (§2.3)", "POST", "application/x-www-form-urlencoded", basic(c.ClientID, c.ClientSecret), with("grant_type", "client_credentials"), 400, "invalid_request", ""},
		{"repeated parameter (§3.1)", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "scope", "read", "scope", "write"), 400, "invalid_request", ""},
		{"repeated JSON key", "POST", "application/json", "", `{"grant_type":"client_credentials","grant_type":"client_credentials","client_id":"` + c.ClientID + `","client_secret":"` + c.ClientSecret + `"}`, 400, "invalid_request", ""},
		{"malformed JSON", "POST", "application/json", "", `{"grant_type":`, 400, "invalid_request", ""},
		{"JSON not an object", "POST", "application/json", "", `["client_credentials"]`, 400, "invalid_request", ""},
		{"JSON with an object value", "POST", "application/json", "", `{"grant_type":{"a":1}}`, 400, "invalid_request", ""},
		{"JSON trailing data", "POST", "application/json", "", `{"grant_type":"client_credentials"} {}`, 400, "invalid_request", ""},
		{"malformed form", "POST", "application/x-www-form-urlencoded", "", "grant_type=%zz", 400, "invalid_request", ""},
		{"wrong content type", "POST", "text/plain", "", with("grant_type", "client_credentials"), 400, "invalid_request", ""},
		{"no content type", "POST", "", "", with("grant_type", "client_credentials"), 400, "invalid_request", ""},
		{"oversized body (64 KiB cap)", "POST", "application/x-www-form-urlencoded", "", with("grant_type", "client_credentials", "pad", strings.Repeat("a", 70<<10)), 413, "invalid_request", ""},
		{"GET is not allowed", "GET", "", "", "", 405, "invalid_request", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.URL+"/oauth2/token", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.authz != "" {
				req.Header.Set("Authorization", tc.authz)
			}
			r := do(t, s, req)
			if r.Status != tc.status || r.JSON["error"] != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tc.challenge) || (tc.challenge == "" && got != "") {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", r.Header)
			}
		})
	}
}

// An unknown client and a wrong secret get byte-identical answers.
func TestUnknownClientAndWrongSecretLookAlike(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{})
	other := setup(t, s, "acme", admin.ClientInput{})
	a := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "gc_doesnotexist", c.ClientSecret)
	b := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, other.ClientSecret)
	if a.Status != 401 || string(a.Body) != string(b.Body) || a.Header.Get("WWW-Authenticate") != b.Header.Get("WWW-Authenticate") {
		t.Fatalf("responses differ:\n%d %s\n%d %s", a.Status, a.Body, b.Status, b.Body)
	}
	// Both failures are in the activity log, with the cause.
	waitFor(t, func() bool {
		evs, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "client.auth_failed"})
		return err == nil && len(evs.Items) == 1 && evs.Items[0].Detail["reason"] == "wrong secret"
	})
	waitFor(t, func() bool {
		evs, err := s.Admin.Audit(ctx, "", admin.AuditQuery{Action: "client.auth_failed"})
		return err == nil && len(evs.Items) == 1 && evs.Items[0].Detail["reason"] == "unknown client"
	})
}

// A grant type the server supports but the client may not use is
// unauthorized_client (RFC 6749 §5.2); one the server does not support is
// unsupported_grant_type.
func TestUnauthorizedClient(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{})
	// Only client_credentials exists today, so the admin API cannot make a
	// client without it; the store can, as a later grant type would.
	if _, err := s.Store.UpdateClient(ctx, c.ClientID, func(sc *store.Client) error {
		sc.Grants = []string{"authorization_code"}
		return nil
	}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	s.Clients.Invalidate(c.ClientID)
	r := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, c.ClientSecret)
	if r.Status != 400 || r.JSON["error"] != "unauthorized_client" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	r = postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"x"}}, c.ClientID, c.ClientSecret)
	if r.Status != 400 || r.JSON["error"] != "unsupported_grant_type" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

// A secret sent as the client id (id and secret swapped) never reaches the
// activity log: only its non-secret hint does.
func TestSwappedCredentialsAreNotLogged(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{})
	r := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientSecret, c.ClientID)
	if r.Status != 401 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var evs *admin.List[admin.Event]
	waitFor(t, func() bool {
		evs, _ = s.Admin.Audit(ctx, "", admin.AuditQuery{Action: "client.auth_failed"})
		return evs != nil && len(evs.Items) == 1
	})
	raw, _ := json.Marshal(evs)
	if strings.Contains(string(raw), c.ClientSecret) || !strings.Contains(string(raw), c.ClientSecret[:12]) {
		t.Fatalf("audit event: %s", raw)
	}
}

// Hostile bytes in the User-Agent or client id cannot make the activity
// log lose events or the token endpoint fail, on either backend.
func TestHostileTextIsStoredSafely(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		c := setup(t, s, "acme", admin.ClientInput{})
		// (net/http will not send NUL or other control bytes in a header;
		// obs-text and long multi-byte text it will.)
		for _, ua := range []string{"tab\tagent", "bad\xff\xfeagent", strings.Repeat("é", 200)} {
			req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("User-Agent", ua)
			req.SetBasicAuth(c.ClientID, secret.New(secret.ClientSecret))
			if r := do(t, s, req); r.Status != 401 {
				t.Fatalf("UA %q: %d %s", ua, r.Status, r.Body)
			}
		}
		// A client id with NUL and invalid UTF-8 is refused before any lookup
		// and logged cleaned.
		r := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"a\x00b\xffc"}, "client_secret": {c.ClientSecret}}, "", "")
		if r.Status != 401 {
			t.Fatalf("hostile client id: %d %s", r.Status, r.Body)
		}
		waitFor(t, func() bool {
			evs, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "client.auth_failed"})
			return err == nil && len(evs.Items) == 3 && len(evs.Items[0].UserAgent) <= 256
		})
		waitFor(t, func() bool {
			evs, err := s.Admin.Audit(ctx, "", admin.AuditQuery{Action: "client.auth_failed"})
			return err == nil && len(evs.Items) == 1 && evs.Items[0].Target == "a?b\uFFFDc"
		})
		// An admin mutation with such a User-Agent succeeds too.
		req, _ := http.NewRequest("POST", s.AdminURL()+"/admin/v1/tenants", strings.NewReader(`{"name":"ua-test"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.AdminToken)
		req.Header.Set("User-Agent", "x\xff")
		if r := do(t, s, req); r.Status != 201 {
			t.Fatalf("admin create with a hostile UA: %d %s", r.Status, r.Body)
		}
	})
}
