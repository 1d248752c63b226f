package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/pats"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

// upstreamBody is the bench upstream's answer: 200 bytes of JSON, a typical
// small API response.
var upstreamBody = []byte(`{"id":"itm_0001","tenant":"bench","name":"Quarterly report","status":"active",` +
	`"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z","tags":["finance","q1"],"owner":"ops","size":4096}`)

// benchRoutes is the gateway's routes file. The route's budget is far
// above what loopback can send, so every request is charged (in-process
// or in Redis) and none is refused.
const benchRoutes = `routes:
  - name: bench
    prefix: /api/{tenant}
    upstream: %s
    read_scope: read
    rate_limits: {read: "1000000/1s"}
`

// target is one thing the load generator drives.
type target struct {
	name   string
	newReq func() *http.Request
}

func (t target) run(ctx context.Context, o benchOptions) loadgen.Result {
	return loadgen.Run(ctx, t.name, t.newReq, http.StatusOK, o.load)
}

// get makes GET requests for url, with an Authorization header if given.
func get(url, authorization string) func() *http.Request {
	return func() *http.Request {
		r, _ := http.NewRequest("GET", url, nil)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		return r
	}
}

// benchGateway measures one small GET (a) straight to the upstream, (b)
// through a bare reverse proxy, (c) through the gateway with a JWT, (d) the
// same with a user's personal access token (a digest lookup cached for the
// deny-list interval, the user's API access and role scopes, batched
// last-use), and (e) the JWT with the rate limit kept in Redis.
func benchGateway(ctx context.Context, env *cmdEnv, o benchOptions) (err error) {
	upURL, closeUp, err := startBaseline(upstreamBody)
	if err != nil {
		return err
	}
	defer closeUp()
	proxyURL, closeProxy, err := startBareProxy(upURL)
	if err != nil {
		return err
	}
	defer closeProxy()
	dir, err := os.MkdirTemp("", "gatehouse-bench-routes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	routes := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(routes, fmt.Appendf(nil, benchRoutes, upURL), 0o600); err != nil {
		return err
	}

	const path = "api/bench"
	targets := []target{
		{"(a) upstream direct, fixed JSON body", get(upURL+path, "")},
		{"(b) bare httputil.ReverseProxy", get(proxyURL+path, "")},
	}
	gw, err := startGatewayApp(ctx, o, routes, "")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, gw.stop()) }()
	targets = append(targets, target{"(c) gateway, JWT, in-process limit", gw.get(path)},
		target{"(d) gateway, PAT, in-process limit", get(gw.PublicURL()+"/"+path, gw.pat)})
	rl, redisNote, err := startRedisGateway(ctx, o, routes)
	if err != nil {
		return err
	}
	if rl != nil {
		defer func() { err = errors.Join(err, rl.stop()) }()
		targets = append(targets, target{"(e) gateway, JWT, Redis limit", rl.get(path)})
	}

	fmt.Fprintf(env.stdout, "gatehouse bench gateway: %d rounds of %s per target, %d connections, %s JWT, upstream body %d bytes\n",
		o.rounds, o.load.Duration, o.load.Concurrency, o.alg, len(upstreamBody))
	var tally gatewayTally
	for i := range o.rounds {
		res := make([]loadgen.Result, len(targets))
		for j, t := range targets {
			res[j] = t.run(ctx, o)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "round %d\n", i+1)
		tally.round(env.stdout, res, redisNote)
	}
	tally.summary(env.stdout)
	return nil
}

// gatewayTally collects the gateway section's ratios round by round.
type gatewayTally struct{ cb, db, eb, added []float64 }

// round prints one round's results, (a) to (e), and its ratios; res holds
// a, b, c, d and, unless it was skipped for redisNote, e.
func (t *gatewayTally) round(w io.Writer, res []loadgen.Result, redisNote string) {
	b, c, d := res[1], res[2], res[3]
	t.cb = append(t.cb, c.RPS()/b.RPS())
	t.db = append(t.db, d.RPS()/b.RPS())
	t.added = append(t.added, micros(c.P50-b.P50))
	fmt.Fprintf(w, "  %s\n  %s\n  %s\n  %s\n", res[0], b, c, d)
	ratios := fmt.Sprintf("c/b %.2f, d/b %.2f", t.cb[len(t.cb)-1], t.db[len(t.db)-1])
	if len(res) > 4 {
		t.eb = append(t.eb, res[4].RPS()/b.RPS())
		fmt.Fprintf(w, "  %s\n", res[4])
		ratios += fmt.Sprintf(", e/b %.2f", t.eb[len(t.eb)-1])
	} else {
		fmt.Fprintf(w, "  (e) Redis: skipped, %s\n", redisNote)
	}
	fmt.Fprintf(w, "  ratios %s; added p50 (c-b) %.0fµs\n", ratios, t.added[len(t.added)-1])
}

func (t *gatewayTally) summary(w io.Writer) {
	medians := fmt.Sprintf("c/b %.2f, d/b %.2f", median(t.cb), median(t.db))
	if len(t.eb) > 0 {
		medians += fmt.Sprintf(", e/b %.2f", median(t.eb))
	}
	fmt.Fprintf(w, "median %s; added p50 %.0fµs (target c/b >= 0.60, added p50 < 200µs)\n", medians, median(t.added))
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// startBareProxy serves a bare httputil.ReverseProxy to upstream with the
// gateway's transport and buffer pool: what any well-tuned Go reverse proxy
// pays on this machine, so that c/b is the cost of the gateway's checks.
func startBareProxy(upstream string) (string, func(), error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", nil, err
	}
	tr := gateway.NewTransport(30 * time.Second)
	rp := &httputil.ReverseProxy{Transport: tr, BufferPool: new(gateway.BufferPool), Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.SetXForwarded()
	}}
	base, closeSrv, err := serveLoopback(rp)
	return base, func() { closeSrv(); tr.CloseIdleConnections() }, err
}

// gatewayApp is a bench Gatehouse serving the routes file, with an access
// token obtained once for its client and a PAT of a user whose role grants
// the route's scope.
type gatewayApp struct {
	*benchApp
	bearer, pat string
}

func startGatewayApp(ctx context.Context, o benchOptions, routes, redisURL string) (*gatewayApp, error) {
	a, err := startBenchApp(ctx, "", o.alg, func(c *config.Config) { c.Routes, c.Redis = routes, redisURL })
	if err != nil {
		return nil, err
	}
	body, err := fetch(a.tokenRequest()())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err == nil {
		err = json.Unmarshal(body, &tok)
	}
	var pat string
	if err == nil {
		pat, err = benchPAT(ctx, a)
	}
	if err != nil {
		return nil, errors.Join(err, a.stop())
	}
	return &gatewayApp{benchApp: a, bearer: "Bearer " + tok.AccessToken, pat: "Bearer " + pat}, nil
}

// benchPAT makes a user of the bench tenant with API access and a role
// granting "read", and a never-expiring personal access token for them.
func benchPAT(ctx context.Context, a *benchApp) (string, error) {
	t, err := a.Store.GetTenant(ctx, "bench")
	if err != nil {
		return "", err
	}
	if err := a.Users.CreateRole(ctx, &store.Role{TenantID: t.ID, Name: "bench_reader", Scopes: []string{"read"}}, store.Event{}); err != nil {
		return "", err
	}
	email, name, enabled := "bench@bench.example", "Bench", true
	u, err := a.Users.Create(ctx, t.ID, &users.Patch{Email: &email, Name: &name,
		Roles: &[]string{"bench_reader"}, APIEnabled: &enabled}, store.Event{})
	if err != nil {
		return "", err
	}
	made, err := a.PATs.Create(ctx, t.ID, u.ID, "bench", pats.Expiry{Never: true}, nil, store.Event{})
	if err != nil {
		return "", err
	}
	return made.Token, nil
}

// get makes authorized GET requests for path on the public listener.
func (g *gatewayApp) get(path string) func() *http.Request {
	return get(g.PublicURL()+"/"+path, g.bearer)
}

// startRedisGateway starts the gateway whose limiter is Redis at --redis;
// with none given, or none answering, it says why instead.
func startRedisGateway(ctx context.Context, o benchOptions, routes string) (*gatewayApp, string, error) {
	if o.redis == "" {
		return nil, `--redis ""`, nil
	}
	g, err := startGatewayApp(ctx, o, routes, o.redis)
	if err != nil {
		return nil, "", err
	}
	// Unreachable, Redis would silently give way to in-process budgets
	// (the app does not fail closed): ask readiness, which pings it.
	r, _ := http.NewRequest("GET", g.PublicURL()+"/readyz", nil)
	body, _ := fetch(r)
	var ready struct{ Redis string }
	if json.Unmarshal(body, &ready) != nil || ready.Redis != "ok" {
		return nil, o.redis + " unreachable", g.stop()
	}
	return g, "", nil
}
