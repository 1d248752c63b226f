package authserver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The fuzz clients' credentials are fixed, so that the committed corpus
// can hold requests that succeed.
const (
	jwtClient    = "gc_fuzz_jwt"
	jwtSecret    = "gate_sk_FuzzJwtC1ient5ecret0000000000000000000000003XzQBJ"
	opaqueClient = "gc_fuzz_opaque" // opaque tokens, an issuance quota of 3 an hour
	opaqueSecret = "gate_sk_FuzzOpaqueC1ient5ecret0000000000000000000003FsNMN"
)

// tokenErrors are the error codes the token endpoint documents, by status
// (docs/oauth.md, docs/integrations.md; RFC 6749 §5.2, RFC 8707 §2).
var tokenErrors = map[int][]string{
	http.StatusBadRequest: {"invalid_request", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
		"invalid_scope", "invalid_target"},
	http.StatusUnauthorized:          {"invalid_client"},
	http.StatusRequestEntityTooLarge: {"invalid_request"},
	http.StatusUnsupportedMediaType:  {"invalid_request"},
	http.StatusTooManyRequests:       {"too_many_requests"},
	http.StatusServiceUnavailable:    {"temporarily_unavailable"}, // the store or limiter down: retry
}

// Token requests end to end at the handler, against the real services on
// SQLite: whatever the body, content type and Authorization header, the
// answer is 200 with a token the client may have, or an RFC 6749 §5.2 JSON
// error with a documented status and code; never a 500 or a panic.
func FuzzTokenEndpoint(f *testing.F) {
	h, issuer := tokenFixture(f)
	basic := func(id, sec string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+sec)) }
	form, js := "application/x-www-form-urlencoded", "application/json"
	for _, seed := range []struct{ ct, authz, body string }{
		{form, "", "grant_type=client_credentials&client_id=" + jwtClient + "&client_secret=" + jwtSecret},
		{form, basic(jwtClient, jwtSecret), "grant_type=client_credentials&scope=read&resource=https://api.example/&resource=api"},
		{js, "", `{"grant_type":"client_credentials","client_id":"` + jwtClient + `","client_secret":"` + jwtSecret + `","audience":"api","scope":["read","write"]}`},
		{form + "; charset=utf-8", basic(opaqueClient, opaqueSecret), "grant_type=client_credentials"},
		{form, basic(jwtClient, jwtSecret), "grant_type=client_credentials&client_secret=" + jwtSecret},
		{form, basic(jwtClient, jwtSecret), "grant_type=client_credentials&audience=%22%5C%C3%A9"},
		{form, basic(jwtClient, jwtSecret), "grant_type=refresh_token&refresh_token=gate_rt_x"},
		{form, basic(jwtClient, jwtSecret), "grant_type=authorization_code&code=abc&redirect_uri=https://app.example/cb&code_verifier=x"},
		{form, "Bearer " + jwtSecret, "grant_type=client_credentials"},
		{form, "", "grant_type=password&username=a&password=b"},
		{form, "", "grant_type=client_credentials&grant_type=client_credentials"},
		{"text/plain", "", "grant_type=client_credentials"},
		{"", "", ""},
		{js, "", `{"grant_type":1}`},
	} {
		f.Add(seed.ct, seed.authz, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType, authz string, body []byte) {
		r := httptest.NewRequest("POST", "/oauth2/token", bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d with Cache-Control %q, Content-Type %q", w.Code, cc, w.Header().Get("Content-Type"))
		}
		if w.Code == http.StatusOK {
			checkIssued(t, w.Body.Bytes(), issuer)
			return
		}
		checkTokenError(t, w)
	})
}

// checkIssued asserts a 200 is a token response (RFC 6749 §5.1) within
// what the fuzz clients may have.
func checkIssued(t *testing.T, body []byte, issuer string) {
	t.Helper()
	var resp struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.AccessToken == "" || resp.TokenType != "Bearer" || resp.ExpiresIn <= 0 {
		t.Fatalf("200 with %s (%v)", body, err)
	}
	for _, sc := range strings.Fields(resp.Scope) {
		if sc != "read" && sc != "write" {
			t.Fatalf("scope %q issued: %s", sc, body)
		}
	}
	if strings.HasPrefix(resp.AccessToken, "gate_") {
		if secret.Parse(resp.AccessToken, secret.AccessToken) != nil {
			t.Fatalf("malformed opaque token in %s", body)
		}
		return
	}
	_, payload, _ := strings.Cut(resp.AccessToken, ".")
	payload, _, _ = strings.Cut(payload, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var c struct {
		Iss      string `json:"iss"`
		ClientID string `json:"client_id"`
		Aud      any    `json:"aud"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Iss != issuer || c.ClientID != jwtClient {
		t.Fatalf("JWT claims %s (%v)", raw, err)
	}
	auds, ok := c.Aud.([]any)
	if s, isString := c.Aud.(string); isString {
		auds, ok = []any{s}, true
	}
	for _, a := range auds {
		if s, _ := a.(string); !slices.Contains([]string{"https://api.example/", "api", issuer}, s) {
			ok = false
		}
	}
	if !ok || len(auds) == 0 {
		t.Fatalf("audience %v issued", c.Aud)
	}
}

// checkTokenError asserts an error is RFC 6749 §5.2 JSON with a documented
// status and code, and the Basic challenge for invalid_client.
func checkTokenError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d with body %q: %v", w.Code, w.Body, err)
	}
	code, _ := e["error"].(string)
	if !slices.Contains(tokenErrors[w.Code], code) {
		t.Fatalf("status %d with error %q: %s", w.Code, code, w.Body)
	}
	for k, v := range e {
		if _, isString := v.(string); !isString || (k != "error" && k != "error_description" && k != "error_uri") {
			t.Fatalf("member %q: %v in %s", k, v, w.Body)
		}
	}
	switch {
	case code == "invalid_client" && w.Header().Get("WWW-Authenticate") != `Basic realm="gatehouse"`:
		t.Fatalf("invalid_client with WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
	case code == "too_many_requests" && w.Header().Get("Retry-After") == "":
		t.Fatal("429 without Retry-After")
	}
	// RFC 6749 §5.2: error_description "MUST NOT include characters
	// outside the set %x20-21 / %x23-5B / %x5D-7E".
	d, _ := e["error_description"].(string)
	for i := 0; i < len(d); i++ {
		if c := d[i]; c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			t.Fatalf("error_description %q holds byte %#x, outside the set RFC 6749 §5.2 allows", d, c)
		}
	}
}

// tokenFixture serves the token endpoint with the real services of an app
// on SQLite, holding a tenant and the two fuzz clients.
func tokenFixture(f *testing.F) (http.Handler, string) {
	s := apptest.Start(f, apptest.SQLite(f), nil)
	ctx := context.Background()
	tn := &store.Tenant{Name: "acme"}
	if err := s.Tenants.Create(ctx, tn, store.Event{}); err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	for _, c := range []*store.Client{
		{ID: jwtClient, Scopes: []string{"read", "write"}, Audiences: []string{"https://api.example/", "api"},
			Grants: []string{"client_credentials", "authorization_code"}, TokenFormat: store.FormatJWT},
		{ID: opaqueClient, Scopes: []string{"read"}, Grants: []string{"client_credentials"}, TokenFormat: store.FormatOpaque,
			IssueQuota: store.Quota{Count: 3, Per: time.Hour}},
	} {
		plain := map[string]string{jwtClient: jwtSecret, opaqueClient: opaqueSecret}[c.ID]
		c.TenantID, c.Name, c.CreatedAt, c.UpdatedAt = tn.ID, c.ID, now, now
		c.Secrets = []store.ClientSecret{{ID: secret.NewID("sec"), Digest: secret.Hash(plain).String(), Hint: secret.Hint(plain), CreatedAt: now}}
		if err := s.Store.CreateClient(ctx, c, store.Event{Action: "client.create", Actor: "fuzz", Outcome: audit.Success}); err != nil {
			f.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	key, _ := secret.ParseMasterKey(secret.NewMasterKey())
	sealer, _ := secret.NewSealer(key)
	rec := audit.NewRecorder(s.Store, log)
	f.Cleanup(rec.Close)
	mux := http.NewServeMux()
	(&authserver.Server{Issuer: s.URL, Clients: s.Clients, Tokens: s.Tokens, Keys: s.Keys, Quota: s.Limiter, Audit: rec,
		Store: s.Store, Users: s.Users, Sealer: sealer, Log: log, Now: time.Now, DefaultTTL: time.Hour,
		Issued: authserver.NewIssuedCounter(prometheus.NewRegistry())}).Mount(mux)
	return mux, s.URL
}
