package main

import (
	"context"
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

// bench measures token issuance against a bare net/http baseline in the
// same run, on loopback, and prints the ratio: the machine is shared and
// noisy, so only ratios are comparable between runs.
func bench(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	dur := fs.Duration("duration", 3*time.Second, "measured time per target per round")
	rounds := fs.Int("rounds", 3, "rounds; targets alternate within each so drift in machine load hits both")
	conc := fs.Int("concurrency", 16, "concurrent keep-alive connections")
	db := fs.String("db", "", "database for the Gatehouse under test (default: SQLite in a temp dir)")
	alg := fs.String("signing-alg", "ES256", "signing algorithm")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *rounds < 1 || *conc < 1 {
		return fmt.Errorf("bench: --rounds and --concurrency must be at least 1")
	}
	opts := loadgen.Options{Duration: *dur, Warmup: time.Second, Concurrency: *conc}

	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.Dev, cfg.Addr, cfg.AdminAddr, cfg.DataDir = true, "127.0.0.1:0", "127.0.0.1:0", dir
	cfg.DB, cfg.SigningAlg = *db, *alg
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	cfg.MasterKey = secret.NewMasterKey()
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() { stop(); <-done }()

	t := &store.Tenant{Name: "bench"}
	if err := a.Tenants.Create(ctx, t, store.Event{}); err != nil {
		return err
	}
	c := &store.Client{ID: secret.NewID("gc"), TenantID: t.ID, Name: "bench", Scopes: []string{"read", "write"}, Audiences: []string{"https://api.bench"}}
	sec, err := a.Clients.Create(ctx, c, store.Event{})
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	tokenURL := a.PublicURL() + "/oauth2/token"
	tokenReq := func() *http.Request {
		r, _ := http.NewRequest("POST", tokenURL, strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(c.ID, sec)
		return r
	}
	// One real response fixes the baseline's body size.
	resp, err := http.DefaultClient.Do(tokenReq())
	if err != nil {
		return err
	}
	sample, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("bench: token request failed: %d %s", resp.StatusCode, sample)
	}

	baseURL, closeBase, err := startBaseline(sample)
	if err != nil {
		return err
	}
	defer closeBase()
	baseReq := func() *http.Request {
		r, _ := http.NewRequest("POST", baseURL, strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}

	fmt.Fprintf(env.stdout, "gatehouse bench: %d rounds of %s per target, %d connections, %s, %s, response %d bytes\n",
		*rounds, *dur, *conc, *alg, strings.SplitN(cfg.DB, ":", 2)[0], len(sample))
	var ratios []float64
	for i := range *rounds {
		base := loadgen.Run(ctx, "(a) bare net/http, fixed JSON body", baseReq, 200, opts)
		tok := loadgen.Run(ctx, "(b) POST /oauth2/token client_credentials", tokenReq, 200, opts)
		ratios = append(ratios, tok.RPS()/base.RPS())
		fmt.Fprintf(env.stdout, "round %d\n  %s\n  %s\n  ratio b/a %.2f\n", i+1, base, tok, ratios[i])
	}
	slices.Sort(ratios)
	fmt.Fprintf(env.stdout, "median ratio b/a: %.2f (target >= 0.40)\n", ratios[len(ratios)/2])
	return nil
}

// startBaseline serves a fixed body from a bare net/http server with the
// same server timeouts Gatehouse uses.
func startBaseline(body []byte) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})
	srv := httpx.Server(ln.Addr().String(), h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/", func() { srv.Close() }, nil
}
