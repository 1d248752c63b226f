package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// gatewayErrors are the documented refusals (docs/gateway.md), by status.
var gatewayErrors = map[int][]string{
	http.StatusBadRequest: {"invalid_request"}, http.StatusUnauthorized: {"missing_token", "invalid_token"},
	http.StatusForbidden: {"insufficient_scope", "invalid_link"}, http.StatusNotFound: {"not_found"},
	http.StatusMethodNotAllowed: {"invalid_request"}, http.StatusGone: {"version_removed"},
	http.StatusRequestEntityTooLarge: {"invalid_request"}, http.StatusTooManyRequests: {"too_many_requests"},
	http.StatusServiceUnavailable: {"temporarily_unavailable"},
}

// ownHeaders are the forwarding and identity headers the gateway itself
// sends upstream.
var ownHeaders = []string{gateway.HeaderSubject, gateway.HeaderTenant, gateway.HeaderClient, gateway.HeaderScopes,
	gateway.HeaderAuth, gateway.HeaderVersion, "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"}

// Whole requests at the gateway, parsed as net/http parses them off the
// wire: any method, request target, Authorization header and one more
// header of the caller's choosing ("$TOKEN" in the Authorization header
// stands for a good access token of tenant acme with scopes read and
// write). Whatever they are: the answer is a documented JSON refusal or
// the upstream's, never a 500 or a panic; only a request with the good
// token reaches the upstream, for the path the gateway matched (in tenant
// acme), with the caller's credentials and look-alike identity headers
// gone and the gateway's own in their place.
func FuzzGatewayRequest(f *testing.F) {
	h, good, up := gatewayFixture(f)
	for _, seed := range []struct{ method, target, authz, name, value string }{
		{"GET", "/api/acme/things?x=1", "Bearer $TOKEN", "X-Gatehouse-Subject", "root"},
		{"POST", "/api/acme/things", "bearer   $TOKEN ", "X_Gatehouse_Tenant", "other"},
		{"DELETE", "/v/acme/v1/x", "Bearer $TOKEN", "Authorization", "Bearer x"},
		{"GET", "/v/acme/v0/x", "Bearer $TOKEN", "Upgrade", "websocket"},
		{"GET", "/api/Acme/things", "Bearer $TOKEN", "X-Forwarded-For", "127.0.0.1"},
		{"GET", "/ro/x", "Bearer $TOKEN", "Content-Length", "99999999"},
		{"GET", "/api/acme/%2e%2e/x", "Bearer $TOKEN", "X-Real-IP", "1.1.1.1"},
		{"GET", "/api/acme/a%2Fb", "Bearer $TOKEN", "Forwarded", "for=1.1.1.1"},
		{"GET", "/api/acme/x?access_token=$TOKEN", "", "X", "y"},
		{"GET", "/api/acme/x?gh_sig=x&gh_exp=1&gh_sub=a&gh_kid=k", "", "X", "y"},
		{"FROB", "/api/acme/x", "Bearer $TOKEN", "X", "y"},
		{"GET", "/nowhere", "Bearer $TOKEN", "X", "y"},
		{"GET", "/api/acme/x", "Bearer $TOKEN.x", "X", "y"},
		{"GET", "/api/acme/x", "Basic Z2M6cw==", "X", "y"},
		{"GET", "http://evil.example/api/acme/x", "Bearer $TOKEN", "Host", "evil.example"},
		{"OPTIONS", "*", "Bearer $TOKEN", "X", "y"},
	} {
		f.Add(seed.method, seed.target, seed.authz, seed.name, seed.value)
	}
	f.Fuzz(func(t *testing.T, method, target, authz, name, value string) {
		authz = strings.ReplaceAll(authz, "$TOKEN", good)
		target = strings.ReplaceAll(target, "$TOKEN", good)
		raw := method + " " + target + " HTTP/1.1\r\nHost: gatehouse.test\r\n"
		if authz != "" {
			raw += "Authorization: " + authz + "\r\n"
		}
		raw += name + ": " + value + "\r\n\r\n"
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil || r.RequestURI == "*" || !validHeaderNames(r.Header) {
			return // net/http answers these itself
		}
		r.RemoteAddr = "192.0.2.1:1234"
		up.reset()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got, reached := up.last()
		switch {
		case reached:
			checkForwarded(t, r, got, value)
		case w.Code/100 == 3 && w.Header().Get("Location") != "": // ServeMux cleaning the path
		case w.Code == http.StatusBadGateway && (r.ContentLength > 0 || len(r.TransferEncoding) > 0):
			// A declared body that never came: the upstream could not be sent it.
		default:
			checkRefused(t, r, w)
		}
	})
}

// checkForwarded asserts what the upstream got.
func checkForwarded(t *testing.T, in, out *http.Request, value string) {
	t.Helper()
	scheme, tok, _ := strings.Cut(in.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || !strings.HasPrefix(strings.TrimSpace(tok), "eyJ") {
		t.Fatalf("%s %s with Authorization %q reached the upstream", in.Method, in.URL, in.Header.Get("Authorization"))
	}
	if out.Header.Get("Authorization") != "" {
		t.Fatalf("the upstream got Authorization %q", out.Header.Get("Authorization"))
	}
	for k, vs := range out.Header {
		n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if (strings.HasPrefix(n, "x-gatehouse-") || strings.HasPrefix(n, "x-forwarded-") || n == "forwarded" || n == "x-real-ip" ||
			n == "authorization") && !slices.Contains(ownHeaders, k) {
			t.Fatalf("the upstream got %s: %q from %s %s", k, vs, in.Method, in.URL)
		}
	}
	want := map[string]string{gateway.HeaderTenant: "acme", gateway.HeaderSubject: fuzzClient, gateway.HeaderClient: fuzzClient,
		gateway.HeaderAuth: "client_credentials", gateway.HeaderScopes: "read write", "X-Forwarded-For": "192.0.2.1"}
	if ip := out.Header.Values("X-Real-Ip"); len(ip) > 0 {
		want["X-Real-Ip"] = "192.0.2.1" // the peer: no trusted proxies
	}
	for k, v := range want {
		if got := out.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Fatalf("the upstream got %s: %q, want %q (request %s %s)", k, got, v, in.Method, in.URL)
		}
	}
	if seg := strings.Split(in.URL.Path, "/"); len(seg) < 3 || seg[2] != "acme" {
		t.Fatalf("%s %s reached the upstream outside tenant acme", in.Method, in.URL)
	}
	switch {
	case strings.HasPrefix(in.URL.Path, "/api/"):
		if out.URL.Path != "/base"+in.URL.Path {
			t.Fatalf("%s %s went upstream as %q", in.Method, in.URL, out.URL.Path)
		}
	case strings.HasPrefix(in.URL.Path, "/v/"):
		if !strings.HasPrefix(out.URL.Path, "/v/acme/v1") || out.Header.Get(gateway.HeaderVersion) != "1" {
			t.Fatalf("%s %s went upstream as %q, version %q", in.Method, in.URL, out.URL.Path, out.Header.Get(gateway.HeaderVersion))
		}
	default:
		t.Fatalf("%s %s reached the upstream as %s", in.Method, in.URL, out.URL)
	}
}

// checkRefused asserts a refusal is documented JSON, with an RFC 6750
// challenge on 401.
func checkRefused(t *testing.T, in *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("%s %s: %d %q (%v)", in.Method, in.URL, w.Code, w.Body, err)
	}
	code, _ := e["error"].(string)
	if !slices.Contains(gatewayErrors[w.Code], code) {
		t.Fatalf("%s %s: status %d with error %q: %s", in.Method, in.URL, w.Code, code, w.Body)
	}
	c := w.Header().Get("WWW-Authenticate")
	if w.Code == http.StatusUnauthorized && !strings.HasPrefix(c, `Bearer realm="`) {
		t.Fatalf("%s %s: 401 with WWW-Authenticate %q", in.Method, in.URL, c)
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 0x20 || c[i] > 0x7e {
			t.Fatalf("%s %s: WWW-Authenticate %q holds byte %#x", in.Method, in.URL, c, c[i])
		}
	}
}

const fuzzClient = "gc_fuzz_gateway"

// upstream records the last request it served.
type upstream struct {
	mu  sync.Mutex
	req *http.Request
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.req = r
	u.mu.Unlock()
	w.Write([]byte("ok"))
}

func (u *upstream) reset() { u.mu.Lock(); u.req = nil; u.mu.Unlock() }

func (u *upstream) last() (*http.Request, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.req, u.req != nil
}

// gatewayFixture is a gateway in front of a recording upstream, with the
// real authenticator of an app on SQLite, a tenant, a client and a token.
// validHeaderNames reports whether every header name is an RFC 9110 token:
// net/http's server refuses the request with 400 before any handler runs
// otherwise, which http.ReadRequest alone does not.
func validHeaderNames(h http.Header) bool {
	for k := range h {
		if k == "" || strings.ContainsFunc(k, func(r rune) bool {
			return r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
		}) {
			return false
		}
	}
	return true
}

func gatewayFixture(f *testing.F) (http.Handler, string, *upstream) {
	s := apptest.Start(f, apptest.SQLite(f), nil)
	ctx := context.Background()
	tn := &store.Tenant{Name: "acme"}
	if err := s.Tenants.Create(ctx, tn, store.Event{}); err != nil {
		f.Fatal(err)
	}
	if err := s.Tenants.Create(ctx, &store.Tenant{Name: "Acme"}, store.Event{}); err != nil {
		f.Fatal(err)
	}
	c := &store.Client{ID: fuzzClient, TenantID: tn.ID, Name: "c", Scopes: []string{"read", "write"}}
	if _, err := s.Clients.Create(ctx, c, store.Event{}); err != nil {
		f.Fatal(err)
	}
	m, err := s.Tokens.Mint(ctx, token.Request{ClientID: c.ID, TenantID: tn.ID, Tenant: "acme", Orgs: []string{"acme"}, Subject: c.ID,
		Audience: []string{s.URL}, Scope: "read write", Auth: "client_credentials", TTL: 24 * time.Hour, Format: store.FormatJWT})
	if err != nil {
		f.Fatal(err)
	}
	up := &upstream{}
	srv := httptest.NewServer(up)
	f.Cleanup(srv.Close)
	tab, err := gateway.Parse([]byte(`
defaults: {read: "1000000/1s", write: "1000000/1s"}
routes:
  - {name: api, prefix: "/api/{tenant}", upstream: "` + srv.URL + `/base", read_scope: read, write_scope: write, max_body_bytes: 1024}
  - {name: ver, prefix: "/v/{tenant}", upstream: "` + srv.URL + `", read_scope: read,
     versions: {default: "1", available: [{version: "1"}, {version: "0", removed: true}]}}
  - {name: ro, prefix: /ro, upstream: "` + srv.URL + `", read_scope: admin}
`))
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := &gateway.Gateway{Auth: s.Auth, Limiter: s.Limiter, Realm: s.URL, Log: log, Now: time.Now,
		Metrics: gateway.NewMetrics(prometheus.NewRegistry()), Links: &gateway.Links{Keys: s.Keys, Now: time.Now, Base: s.URL}}
	g.Install(tab)
	mux := http.NewServeMux()
	mux.Handle("/", g)
	if secret.Parse(m.Token, secret.AccessToken) == nil {
		f.Fatal("want a JWT")
	}
	return mux, m.Token, up
}
