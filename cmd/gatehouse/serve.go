package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demoapi"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
)

var errUsage = errors.New("usage")

// parseConfig reads serve's flags and environment.
func parseConfig(env *cmdEnv, name string, args []string, dev bool) (config.Config, error) {
	cfg := config.Default()
	cfg.Dev = dev
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	cfg.Flags(fs)
	if err := config.Parse(fs, args, env.getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errUsage
		}
		return cfg, err
	}
	if dev {
		cfg.Dev = true // quickstart is always dev mode
	}
	return cfg, nil
}

func newLogger(env *cmdEnv, cfg config.Config) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) //nolint:errcheck // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(env.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.stderr, opts))
}

// serve runs `gatehouse serve` and, with quickstart, first sets up the demo.
func serve(ctx context.Context, env *cmdEnv, args []string, quickstart bool) error {
	name := "serve"
	if quickstart {
		name = "quickstart"
	}
	cfg, err := parseConfig(env, name, args, quickstart)
	if err != nil {
		return err
	}
	log := newLogger(env, cfg)
	demo := false
	if quickstart && cfg.Routes == "" {
		stop, routes, err := startDemoAPI(cfg.DataDir, log)
		if err != nil {
			return err
		}
		defer stop()
		cfg.Routes, demo = routes, true
	}
	// SIGHUP's default action is to exit: take it over before the slow
	// start (migrations, key loading), and act on it once running.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	stopHUP := reloadOnHUP(ctx, hup, a, log)
	defer stopHUP()
	if a.AdminToken != "" {
		path := filepath.Join(cfg.DataDir, "admin-token")
		if err := os.WriteFile(path, []byte(a.AdminToken+"\n"), 0o600); err != nil {
			a.Close()
			return err
		}
		fmt.Fprintf(env.stdout, "Dev mode: generated an admin API token (shown once, saved to %s for the local CLI):\n  %s\n\n", path, a.AdminToken)
	}
	if quickstart {
		if err := printQuickstart(ctx, env, a, demo); err != nil {
			a.Close()
			return err
		}
	}
	return a.Run(ctx)
}

// reloadOnHUP re-reads the routes file on SIGHUP; a bad file is logged and
// the routes in force stay.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, a *app.App, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-hup:
				if err := a.ReloadRoutes(); err != nil {
					log.Error("routes reload failed; the routes in force stay", "err", err)
				}
			}
		}
	}()
	return func() { close(done) }
}

// startDemoAPI serves the demo submissions API on a loopback port and
// writes a routes file for it into dir.
func startDemoAPI(dir string, log *slog.Logger) (stop func(), routes string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("demo API: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		ln.Close()
		return nil, "", err
	}
	routes = filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(routes, []byte(demoapi.Routes("http://"+ln.Addr().String())), 0o600); err != nil {
		ln.Close()
		return nil, "", err
	}
	srv := httpx.Server(ln.Addr().String(), (&demoapi.API{}).Handler(), log)
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return func() { srv.Close() }, routes, nil
}

func migrate(ctx context.Context, env *cmdEnv, args []string) error {
	cfg, err := parseConfig(env, "migrate", args, false)
	if err != nil {
		return err
	}
	cfg.Finish()
	s, err := app.OpenStore(ctx, cfg.DB) // opening migrates
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "migrated %s\n", redact(cfg.DB))
	return s.Close()
}

// redact hides a password in a database URL.
func redact(db string) string {
	if strings.HasPrefix(db, "sqlite:") {
		return db
	}
	if i, j := strings.Index(db, "://"), strings.LastIndex(db, "@"); i >= 0 && j > i {
		if k := strings.Index(db[i+3:j], ":"); k >= 0 {
			return db[:i+3+k] + ":****" + db[j:]
		}
	}
	return db
}

func keygen(env *cmdEnv) error {
	fmt.Fprintf(env.stdout, "GATEHOUSE_MASTER_KEY=%s\nGATEHOUSE_ADMIN_TOKEN=%s\n", secret.NewMasterKey(), secret.New(secret.AdminToken))
	return nil
}
