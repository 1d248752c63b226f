package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// fakeAuth is an Authenticator whose answer the test chooses.
type fakeAuth struct {
	Fn func(ctx context.Context, raw, tenant string) (*authn.Principal, error)
}

func (f *fakeAuth) AuthenticateFor(ctx context.Context, raw, tenant string) (*authn.Principal, error) {
	return f.Fn(ctx, raw, tenant)
}

const pipelineRealm = "https://gatehouse.test"

// pipelineRoutes: a tenant API that reads and writes, one that insists on
// an audience, a versioned one, a read-only one and one with a tight read
// budget of its own.
const pipelineRoutes = `
defaults: {read: "100/1m", write: "50/1m"}
routes:
  - {name: api, prefix: "/api/{tenant}", upstream: "$UP/base", read_scope: "api:read", write_scope: "api:write"}
  - {name: aud, prefix: "/aud", upstream: "$UP", read_scope: "api:read", audiences: ["https://api.example"]}
  - {name: ver, prefix: "/v/{tenant}", upstream: "$UP", read_scope: "api:read",
     versions: {default: "2", available: [{version: "0", removed: true},
       {version: "1", deprecated: "2026-01-01T00:00:00Z", sunset: "2027-01-01T00:00:00Z"}, {version: "2"}]}}
  - {name: ro, prefix: /ro, upstream: "$UP", read_scope: "api:read"}
  - {name: tight, prefix: "/tight", upstream: "$UP", read_scope: "api:read", rate_limits: {read: "1/1m"}}
`

// reader is a client of tenant acme that may read and write.
func reader() *authn.Principal {
	return &authn.Principal{Kind: credential.ClientCredentials, Subject: "gc_one", ClientID: "gc_one", Tenant: "acme",
		Orgs: []string{"acme"}, Scopes: []string{"api:read", "api:write"}, Audience: []string{"https://api.example"},
		RateKey: "client:gc_one"}
}

// with returns reader changed by f.
func with(f func(p *authn.Principal)) func(context.Context, string, string) (*authn.Principal, error) {
	return func(context.Context, string, string) (*authn.Principal, error) {
		p := reader()
		f(p)
		return p, nil
	}
}

func failWith(err error) func(context.Context, string, string) (*authn.Principal, error) {
	return func(context.Context, string, string) (*authn.Principal, error) { return nil, err }
}

// Every check of the pipeline, driven through ServeHTTP with a fake
// authenticator: the status, the error code, the RFC 6750 challenge, the
// headers each answer carries, and the decision counted.
func TestPipeline(t *testing.T) {
	ok := with(func(*authn.Principal) {})
	policy := `"read";q=100;w=60, "write";q=50;w=60`
	for _, tc := range []struct {
		name           string
		method, target string
		authz          string // the Authorization header, "" for none
		auth           func(context.Context, string, string) (*authn.Principal, error)
		before         int // requests sent first, to spend a budget
		status         int
		code           string            // the JSON body's error, "" for an upstream answer
		challenge      string            // WWW-Authenticate, "" for none
		headers        map[string]string // more headers the answer must carry ("" for absent)
		decision       string            // route and decision counted
	}{
		{name: "unsafe path", method: "GET", target: "/api/acme/../x", authz: "Bearer t", auth: ok,
			status: 400, code: "invalid_request", decision: "none bad_request"},
		{name: "no route", method: "GET", target: "/nowhere", authz: "Bearer t", auth: ok,
			status: 404, code: "not_found", decision: "none not_found"},
		{name: "unknown method", method: "FROB", target: "/api/acme/x", authz: "Bearer t", auth: ok,
			status: 405, code: "invalid_request", headers: map[string]string{"Allow": "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE"},
			decision: "api bad_request"},
		{name: "write on a read-only route", method: "POST", target: "/ro/x", authz: "Bearer t", auth: ok,
			status: 405, code: "invalid_request", headers: map[string]string{"Allow": "GET, HEAD, OPTIONS", "RateLimit-Policy": ""},
			decision: "ro bad_request"},
		{name: "no token", method: "GET", target: "/api/acme/x", auth: ok,
			status: 401, code: "missing_token", challenge: `Bearer realm="https://gatehouse.test"`,
			headers: map[string]string{"RateLimit-Policy": ""}, decision: "api unauthenticated"},
		{name: "token in the query", method: "GET", target: "/api/acme/x?access_token=t", auth: ok,
			status: 400, code: "invalid_request",
			challenge: `Bearer realm="https://gatehouse.test", error="invalid_request", error_description="access tokens are accepted only in the Authorization header, never in the URL"`,
			decision:  "api bad_request"},
		{name: "malformed token", method: "GET", target: "/api/acme/x", authz: "Bearer a=b", auth: ok,
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="https://gatehouse.test", error="invalid_token", error_description="the access token is malformed"`,
			decision:  "api unauthenticated"},
		{name: "bad token", method: "GET", target: "/api/acme/x", authz: "Bearer t", auth: failWith(authn.ErrInvalid),
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="https://gatehouse.test", error="invalid_token", error_description="the access token is invalid"`,
			decision:  "api unauthenticated"},
		{name: "expired", method: "GET", target: "/api/acme/x", authz: "Bearer t", auth: failWith(authn.ErrExpired),
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="https://gatehouse.test", error="invalid_token", error_description="the access token expired"`,
			decision:  "api unauthenticated"},
		{name: "no API access", method: "GET", target: "/api/acme/x", authz: "Bearer t", auth: failWith(authn.ErrNoAPIAccess),
			status: 403, code: "insufficient_scope",
			challenge: `Bearer realm="https://gatehouse.test", error="insufficient_scope", error_description="the user the access token acts for has no API access"`,
			decision:  "api forbidden"},
		{name: "authenticator failing", method: "GET", target: "/api/acme/x", authz: "Bearer t", auth: failWith(errors.New("database down")),
			status: 503, code: "temporarily_unavailable", headers: map[string]string{"Retry-After": "1"},
			decision: "api unavailable"},
		{name: "audience mismatch", method: "GET", target: "/aud/x", authz: "Bearer t",
			auth:   with(func(p *authn.Principal) { p.Audience = []string{"https://other.example"} }),
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="https://gatehouse.test", error="invalid_token", error_description="the access token is not meant for this API (audience)"`,
			headers:   map[string]string{"RateLimit-Policy": policy}, decision: "aud unauthenticated"},
		{name: "tenant not covered, case-sensitive", method: "GET", target: "/api/Acme/x", authz: "Bearer t", auth: ok,
			status: 403, code: "insufficient_scope",
			challenge: `Bearer realm="https://gatehouse.test", error="insufficient_scope", error_description="the access token does not cover tenant 'Acme'"`,
			decision:  "api forbidden"},
		{name: "missing read scope", method: "GET", target: "/api/acme/x", authz: "Bearer t",
			auth:   with(func(p *authn.Principal) { p.Scopes = []string{"api:write"} }),
			status: 403, code: "insufficient_scope",
			challenge: `Bearer realm="https://gatehouse.test", error="insufficient_scope", error_description="the access token lacks the scope api:read", scope="api:read"`,
			decision:  "api forbidden"},
		{name: "missing write scope", method: "DELETE", target: "/api/acme/x", authz: "Bearer t",
			auth:   with(func(p *authn.Principal) { p.Scopes = []string{"api:read"} }),
			status: 403, code: "insufficient_scope",
			challenge: `Bearer realm="https://gatehouse.test", error="insufficient_scope", error_description="the access token lacks the scope api:write", scope="api:write"`,
			decision:  "api forbidden"},
		{name: "removed version", method: "GET", target: "/v/acme/v0/x", authz: "Bearer t", auth: ok,
			status: 410, code: "version_removed", headers: map[string]string{"RateLimit-Policy": policy}, decision: "ver gone"},
		{name: "deprecated version", method: "GET", target: "/v/acme/v1/x", authz: "Bearer t", auth: ok,
			status: 200, headers: map[string]string{"Deprecation": "@1767225600", "Sunset": "Fri, 01 Jan 2027 00:00:00 GMT"},
			decision: "ver allowed"},
		{name: "current version", method: "GET", target: "/v/acme/x", authz: "Bearer t", auth: ok,
			status: 200, headers: map[string]string{"Deprecation": "", "Sunset": ""}, decision: "ver allowed"},
		{name: "budget exhausted", method: "GET", target: "/tight/x", authz: "Bearer t", auth: ok, before: 1,
			status: 429, code: "too_many_requests",
			headers: map[string]string{"Retry-After": "60", "RateLimit": `"read";r=0;t=60`,
				"RateLimit-Policy": `"read";q=1;w=60, "write";q=50;w=60`},
			decision: "tight limited"},
		{name: "allowed", method: "POST", target: "/api/acme/x", authz: "Bearer t", auth: ok,
			status: 200, headers: map[string]string{"RateLimit": `"write";r=49;t=2`, "RateLimit-Policy": policy},
			decision: "api allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, reg, _ := newPipeline(t, tc.auth)
			send := func() *httptest.ResponseRecorder {
				r := httptest.NewRequest(tc.method, tc.target, nil)
				if tc.authz != "" {
					r.Header.Set("Authorization", tc.authz)
				}
				w := httptest.NewRecorder()
				g.ServeHTTP(w, r)
				return w
			}
			for range tc.before {
				send()
			}
			was := decisions(t, reg)
			w := send()
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.code != "" {
				var body map[string]string
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != tc.code {
					t.Errorf("body %s (%v), want error %q", w.Body, err, tc.code)
				}
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q\n                      want %q", got, tc.challenge)
			}
			for k, v := range tc.headers {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if d := counted(was, decisions(t, reg)); d != tc.decision {
				t.Errorf("counted %q, want %q", d, tc.decision)
			}
		})
	}
}

// A request let through reaches the upstream with the caller's identity
// in the gateway's headers and without the caller's token.
func TestPipelineForwardsIdentity(t *testing.T) {
	var asked []string
	g, _, up := newPipeline(t, func(_ context.Context, raw, tenant string) (*authn.Principal, error) {
		asked = append(asked, raw, tenant)
		return reader(), nil
	})
	r := httptest.NewRequest("GET", "/api/acme/things?x=1", nil)
	r.Header.Set("Authorization", "Bearer tok")
	r.Header.Set("X-Gatehouse-Subject", "root")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	got := up.request()
	if w.Code != 200 || got == nil {
		t.Fatalf("status %d, upstream reached: %v", w.Code, got != nil)
	}
	if strings.Join(asked, " ") != "tok acme" {
		t.Errorf("the authenticator was asked %q, want the token and the route's tenant", asked)
	}
	for k, v := range map[string]string{"Authorization": "", gateway.HeaderSubject: "gc_one", gateway.HeaderTenant: "acme",
		gateway.HeaderClient: "gc_one", gateway.HeaderScopes: "api:read api:write", gateway.HeaderAuth: "client_credentials"} {
		if vs := got.Header.Values(k); strings.Join(vs, ",") != v {
			t.Errorf("upstream %s: %q, want %q", k, vs, v)
		}
	}
	if got.URL.Path != "/base/api/acme/things" || got.URL.RawQuery != "x=1" {
		t.Errorf("upstream URL %s", got.URL)
	}
}

// The removed version's answer names the current one.
func TestPipelineRemovedVersionBody(t *testing.T) {
	g, _, _ := newPipeline(t, with(func(*authn.Principal) {}))
	r := httptest.NewRequest("GET", "/v/acme/v0/x", nil)
	r.Header.Set("Authorization", "Bearer t")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	want := `{"current_version":"2","error":"version_removed","error_description":"API version 0 is no longer available; the current version is 2"}` + "\n"
	if w.Body.String() != want {
		t.Errorf("body %s, want %s", w.Body, want)
	}
}

// A rate limiter that is down fails closed: 503, retry in a second.
func TestPipelineLimiterDown(t *testing.T) {
	g, reg, _ := newPipeline(t, with(func(*authn.Principal) {}))
	g.Limiter = &fakeLimiter{Fn: func(context.Context, string, ratelimit.Limit) (ratelimit.Result, error) {
		return ratelimit.Result{}, ratelimit.ErrUnavailable
	}}
	r := httptest.NewRequest("GET", "/api/acme/x", nil)
	r.Header.Set("Authorization", "Bearer t")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" || w.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("status %d, headers %v", w.Code, w.Header())
	}
	if d := counted(nil, decisions(t, reg)); d != "api unavailable" {
		t.Errorf("counted %q", d)
	}
}

type fakeLimiter struct {
	Fn func(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error)
}

func (f *fakeLimiter) Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error) {
	return f.Fn(ctx, key, l)
}

// newPipeline is a gateway with the pipeline routes in front of a
// recording upstream, a local limiter on a clock that stands still, and
// its own metrics registry.
func newPipeline(t *testing.T, auth func(context.Context, string, string) (*authn.Principal, error)) (*gateway.Gateway, *prometheus.Registry, *recorder) {
	t.Helper()
	up := &recorder{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	tab, err := gateway.Parse([]byte(strings.ReplaceAll(pipelineRoutes, "$UP", srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }
	reg := prometheus.NewRegistry()
	g := &gateway.Gateway{Auth: &fakeAuth{Fn: auth}, Limiter: ratelimit.NewLocal(now), Realm: pipelineRealm, Now: now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: gateway.NewMetrics(reg)}
	g.Install(tab)
	t.Cleanup(func() { g.Install(&gateway.Table{}) }) // lets the route's idle connections go
	return g, reg, up
}

// recorder is an upstream that keeps the last request it served.
type recorder struct {
	mu  sync.Mutex
	req *http.Request
}

func (u *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.req = r
	u.mu.Unlock()
}

func (u *recorder) request() *http.Request { u.mu.Lock(); defer u.mu.Unlock(); return u.req }

// decisions reads gatehouse_gateway_requests_total from the registry, by
// "route decision".
func decisions(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_gateway_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			n[l["route"]+" "+l["decision"]] = m.GetCounter().GetValue()
		}
	}
	return n
}

// counted is the one decision counted between two readings ("" if none,
// or if more than one was).
func counted(before, after map[string]float64) string {
	var got []string
	for k, v := range after {
		if v != before[k] {
			got = append(got, k)
		}
	}
	if len(got) != 1 || after[got[0]]-before[got[0]] != 1 {
		return strings.Join(got, ",")
	}
	return got[0]
}
