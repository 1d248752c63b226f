package apisession_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apisession"
	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// fuzzKey is an API key of the fuzz tenant, fixed so that the committed
// corpus can log in with it.
const fuzzKey = "gate_ak_FuzzApiKey0000000000000000000000000000000003uvWkf"

var endpoints = []string{"/auth/login", "/auth/refresh", "/auth/logout"}

// sessionErrors are the error codes of the API-key session endpoints, by
// status (docs/tokens.md; RFC 6749 §5.2, RFC 6750 §3.1).
var sessionErrors = map[int][]string{
	http.StatusBadRequest:            {"invalid_request", "invalid_grant", "refresh_too_early", "session_expired"},
	http.StatusUnauthorized:          {"invalid_client", "invalid_token"},
	http.StatusRequestEntityTooLarge: {"invalid_request"},
	http.StatusUnsupportedMediaType:  {"invalid_request"},
	http.StatusTooManyRequests:       {"too_many_requests"},
	http.StatusServiceUnavailable:    {"temporarily_unavailable"}, // the store or limiter down: retry
}

// The session endpoints read JSON bodies and Authorization headers from
// anyone. Whatever the endpoint, content type, header and body: the answer
// is a session (200), a logout (204), or a documented JSON error; never a
// 500 or a panic. A login that succeeds starts a session whose refresh
// token is refused as too early, with the wait in the body and in
// Retry-After, and which its access token logs out, after which the
// refresh token is dead.
func FuzzSessionEndpoints(f *testing.F) {
	h := sessionFixture(f)
	js := "application/json"
	for _, seed := range []struct {
		at           uint8
		ct, az, body string
	}{
		{0, js, "", `{"api_key":"` + fuzzKey + `"}`},
		{0, js + "; charset=utf-8", "", `{"api_key":"` + fuzzKey[:len(fuzzKey)-1] + `X"}`},
		{0, js, "", `{"api_key":["` + fuzzKey + `"]}`},
		{0, js, "", `{"api_key":"a","api_key":"b"}`},
		{0, "application/x-www-form-urlencoded", "", "api_key=" + fuzzKey},
		{1, js, "", `{"refresh_token":"gate_rt_FuzzRefresh000000000000000000000000000000004r6fpF"}`},
		{1, js, "", `{"refresh_token":null}`},
		{2, "", "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln", ""},
		{2, "", "Basic Z2M6cw==", ""},
		{2, js, "", `{"refresh_token":"gate_rt_x"}`},
		{2, "text/plain", "", "x"},
	} {
		f.Add(seed.at, seed.ct, seed.az, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, at uint8, contentType, authz string, body []byte) {
		w := post(h, endpoints[int(at)%len(endpoints)], contentType, authz, body)
		switch {
		case w.Code == http.StatusNoContent && endpoints[int(at)%len(endpoints)] == "/auth/logout":
		case w.Code == http.StatusOK && endpoints[int(at)%len(endpoints)] != "/auth/logout":
			checkSession(t, h, w)
		default:
			checkSessionError(t, w)
		}
	})
}

type session struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

func checkSession(t *testing.T, h http.Handler, w *httptest.ResponseRecorder) {
	t.Helper()
	var s session
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || s.AccessToken == "" || s.TokenType != "Bearer" || s.ExpiresIn <= 0 ||
		secret.Parse(s.RefreshToken, secret.RefreshToken) != nil || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("200 with %s (%v)", w.Body, err)
	}
	refresh, _ := json.Marshal(map[string]string{"refresh_token": s.RefreshToken})
	w = post(h, "/auth/refresh", "application/json", "", refresh)
	var early struct {
		Error      string `json:"error"`
		RetryAfter int64  `json:"retry_after"`
	}
	if json.Unmarshal(w.Body.Bytes(), &early) != nil || w.Code != 400 || early.Error != "refresh_too_early" || early.RetryAfter <= 0 ||
		w.Header().Get("Retry-After") != strconv.FormatInt(early.RetryAfter, 10) {
		t.Fatalf("an immediate refresh: %d %s, Retry-After %q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if w = post(h, "/auth/logout", "", "Bearer "+s.AccessToken, nil); w.Code != http.StatusNoContent {
		t.Fatalf("logout with the session's access token: %d %s", w.Code, w.Body)
	}
	if w = post(h, "/auth/refresh", "application/json", "", refresh); w.Code != 400 || !bytes.Contains(w.Body.Bytes(), []byte(`"invalid_grant"`)) {
		t.Fatalf("a refresh after logout: %d %s", w.Code, w.Body)
	}
}

// checkSessionError asserts an error is JSON with a documented status and
// code, RFC 6749 §5.2's members (and retry_after for refresh_too_early).
func checkSessionError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d with body %q: %v", w.Code, w.Body, err)
	}
	code, _ := e["error"].(string)
	if !slices.Contains(sessionErrors[w.Code], code) {
		t.Fatalf("status %d with error %q: %s", w.Code, code, w.Body)
	}
	for k, v := range e {
		_, isString := v.(string)
		_, isNumber := v.(float64)
		if !(isString && (k == "error" || k == "error_description")) && !(isNumber && k == "retry_after" && code == "refresh_too_early") {
			t.Fatalf("member %q: %v in %s", k, v, w.Body)
		}
	}
	if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	d, _ := e["error_description"].(string)
	for i := 0; i < len(d); i++ {
		if c := d[i]; c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			t.Fatalf("error_description %q holds byte %#x, outside the set RFC 6749 §5.2 allows", d, c)
		}
	}
}

func post(h http.Handler, path, contentType, authz string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// sessionFixture serves the session endpoints with the real services of an
// app on SQLite, holding a tenant, a client and an API key for it (allowed
// as many logins as the tenant rules permit, so fuzzing is not throttled).
func sessionFixture(f *testing.F) http.Handler {
	s := apptest.Start(f, apptest.SQLite(f), nil)
	ctx := context.Background()
	tn := &store.Tenant{Name: "acme", Settings: store.TenantSettings{APIKeyLoginsPerHour: 100_000}}
	if err := s.Tenants.Create(ctx, tn, store.Event{}); err != nil {
		f.Fatal(err)
	}
	c := &store.Client{ID: secret.NewID("gc"), TenantID: tn.ID, Name: "backend", Scopes: []string{"read"}}
	if _, err := s.Clients.Create(ctx, c, store.Event{}); err != nil {
		f.Fatal(err)
	}
	k := &store.APIKey{ID: secret.NewID("ak"), TenantID: tn.ID, ClientID: c.ID, Name: "fuzz", Digest: secret.Hash(fuzzKey).String(),
		Prefix: fuzzKey[:12], CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.Store.CreateAPIKey(ctx, k, store.Event{TenantID: tn.ID, Action: "api_key.create", Actor: "fuzz", Target: k.ID, Outcome: audit.Success}); err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := audit.NewRecorder(s.Store, log)
	f.Cleanup(rec.Close)
	mux := http.NewServeMux()
	(&apisession.Handler{Store: s.Store, Users: s.Users, Clients: s.Clients, Tokens: s.Tokens, Limiter: s.Limiter, Audit: rec,
		Issuer: s.URL, DefaultTTL: time.Hour, Log: log, Now: time.Now}).Mount(mux)
	return mux
}
