package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// benchOptions are the bench's flags.
type benchOptions struct {
	only   string // issuance, gateway or all
	rounds int
	load   loadgen.Options
	db     string
	alg    string
	redis  string // "" skips the Redis gateway target
}

// bench measures token issuance and the gateway against bare baselines in
// the same run, on loopback, and prints ratios: the machine is shared and
// noisy, so only ratios are comparable between runs.
func bench(ctx context.Context, env *cmdEnv, args []string) error {
	o, err := parseBenchFlags(env, args)
	if err != nil {
		return err
	}
	if o.only != "gateway" {
		if err := benchIssuance(ctx, env, o); err != nil {
			return err
		}
	}
	if o.only != "issuance" {
		return benchGateway(ctx, env, o)
	}
	return nil
}

func parseBenchFlags(env *cmdEnv, args []string) (benchOptions, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var o benchOptions
	fs.StringVar(&o.only, "only", "all", "what to measure: issuance, gateway or all")
	dur := fs.Duration("duration", 3*time.Second, "measured time per target per round")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; targets alternate within each so drift in machine load hits all")
	conc := fs.Int("concurrency", 16, "concurrent keep-alive connections")
	fs.StringVar(&o.db, "db", "", "database for the issuance Gatehouse (default: SQLite in a temp dir; the gateway's always use SQLite)")
	fs.StringVar(&o.alg, "signing-alg", "ES256", "signing algorithm")
	fs.StringVar(&o.redis, "redis", "redis://127.0.0.1:6379/0", `Redis for the gateway's shared rate limiter ("" skips that target)`)
	if err := fs.Parse(args); err != nil {
		return o, errUsage
	}
	if !slices.Contains([]string{"issuance", "gateway", "all"}, o.only) {
		return o, fmt.Errorf("bench: --only %q: want issuance, gateway or all", o.only)
	}
	if o.rounds < 1 || *conc < 1 {
		return o, fmt.Errorf("bench: --rounds and --concurrency must be at least 1")
	}
	// The warmup never outlasts the measurement, so a short run stays short.
	o.load = loadgen.Options{Duration: *dur, Warmup: min(time.Second, *dur), Concurrency: *conc}
	return o, nil
}

// benchIssuance measures (a) a bare net/http server answering a body the
// size of a token response against (b) client_credentials issuance.
func benchIssuance(ctx context.Context, env *cmdEnv, o benchOptions) (err error) {
	a, err := startBenchApp(ctx, o.db, o.alg, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.stop()) }()
	tokenReq := a.tokenRequest()
	// One real response fixes the baseline's body size.
	sample, err := fetch(tokenReq())
	if err != nil {
		return err
	}
	baseURL, closeBase, err := startBaseline(sample)
	if err != nil {
		return err
	}
	defer closeBase()
	baseReq := func() *http.Request {
		r, _ := http.NewRequest("POST", baseURL, strings.NewReader(tokenForm))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}

	fmt.Fprintf(env.stdout, "gatehouse bench: %d rounds of %s per target, %d connections, %s, %s, response %d bytes\n",
		o.rounds, o.load.Duration, o.load.Concurrency, o.alg, strings.SplitN(a.Config.DB, ":", 2)[0], len(sample))
	var ratios []float64
	for i := range o.rounds {
		base := loadgen.Run(ctx, "(a) bare net/http, fixed JSON body", baseReq, 200, o.load)
		tok := loadgen.Run(ctx, "(b) POST /oauth2/token client_credentials", tokenReq, 200, o.load)
		if err := ctx.Err(); err != nil {
			return err
		}
		ratios = append(ratios, tok.RPS()/base.RPS())
		fmt.Fprintf(env.stdout, "round %d\n  %s\n  %s\n  ratio b/a %.2f\n", i+1, base, tok, ratios[i])
	}
	fmt.Fprintf(env.stdout, "median ratio b/a: %.2f (target >= 0.40)\n", median(ratios))
	return nil
}

// benchApp is a Gatehouse started for the bench: dev mode on loopback, a
// temp dir of its own, tenant "bench" and one client in it.
type benchApp struct {
	*app.App
	clientID, secret string
	stop             func() error // shuts down gracefully and removes the temp dir
}

// startBenchApp starts a Gatehouse on db (SQLite in its temp dir when "");
// mutate may change the configuration first.
func startBenchApp(ctx context.Context, db, alg string, mutate func(*config.Config)) (_ *benchApp, err error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.Dev, cfg.Addr, cfg.AdminAddr, cfg.DataDir = true, "127.0.0.1:0", "127.0.0.1:0", dir
	cfg.DB, cfg.SigningAlg = db, alg
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	cfg.MasterKey = secret.NewMasterKey()
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := app.New(ctx, cfg, discardLog())
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	b := &benchApp{App: a, stop: func() error {
		cancel()
		return errors.Join(<-done, os.RemoveAll(dir))
	}}
	defer func() {
		if err != nil {
			b.stop()
		}
	}()

	t := &store.Tenant{Name: "bench"}
	if err := a.Tenants.Create(ctx, t, store.Event{}); err != nil {
		return nil, err
	}
	c := &store.Client{ID: secret.NewID("gc"), TenantID: t.ID, Name: "bench", Scopes: []string{"read", "write"}, Audiences: []string{"https://api.bench"}}
	if b.secret, err = a.Clients.Create(ctx, c, store.Event{}); err != nil {
		return nil, err
	}
	b.clientID = c.ID
	return b, nil
}

var tokenForm = url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()

// tokenRequest makes client_credentials requests for the app's client.
func (b *benchApp) tokenRequest() func() *http.Request {
	tokenURL := b.PublicURL() + "/oauth2/token"
	return func() *http.Request {
		r, _ := http.NewRequest("POST", tokenURL, strings.NewReader(tokenForm))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(b.clientID, b.secret)
		return r
	}
}

// fetch sends one request and returns the body of its 200 response.
func fetch(r *http.Request) ([]byte, error) {
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("bench: %s %s: %d %s", r.Method, r.URL.Path, resp.StatusCode, body)
	}
	return body, err
}

// startBaseline serves a fixed body from a bare net/http server with the
// same server timeouts Gatehouse uses.
func startBaseline(body []byte) (string, func(), error) {
	return serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	}))
}

// serveLoopback serves h on a free loopback port with Gatehouse's server
// timeouts and returns its base URL (ending in /) and a closer.
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := httpx.Server(ln.Addr().String(), h, discardLog())
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/", func() { srv.Close() }, nil
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// median of xs (sorted in place); 0 when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}
