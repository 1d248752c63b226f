package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
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
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if a.AdminToken != "" {
		path := filepath.Join(cfg.DataDir, "admin-token")
		if err := os.WriteFile(path, []byte(a.AdminToken+"\n"), 0o600); err != nil {
			a.Close()
			return err
		}
		fmt.Fprintf(env.stdout, "Dev mode: generated an admin API token (shown once, saved to %s for the local CLI):\n  %s\n\n", path, a.AdminToken)
	}
	if quickstart {
		if err := printQuickstart(ctx, env, a); err != nil {
			a.Close()
			return err
		}
	}
	return a.Run(ctx)
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
