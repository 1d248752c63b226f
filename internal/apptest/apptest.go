// Package apptest starts the real Gatehouse app on loopback for tests, on
// either backend: SQLite in a temp dir, or a fresh PostgreSQL database when
// GATEHOUSE_TEST_POSTGRES is set.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// Server is a running app.
type Server struct {
	*app.App
	URL        string // public listener's base URL (the issuer unless the test set one)
	AdminToken string
	Admin      *admin.API
	HTTP       *http.Client
	stop       func()
}

// Stop shuts the server down gracefully and waits for Run to return.
func (s *Server) Stop() { s.stop() }

// Backends runs fn once per backend: sqlite always, postgres when enabled.
func Backends(t *testing.T, fn func(t *testing.T, db func(t *testing.T) string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db") })
	})
	t.Run("postgres", func(t *testing.T) {
		if pgtest.ServerURL() == "" {
			t.Skip("GATEHOUSE_TEST_POSTGRES not set")
		}
		fn(t, func(t *testing.T) string { return pgtest.URL(t) })
	})
}

// SQLite returns a fresh SQLite database setting.
func SQLite(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db") }

// Start runs the app on 127.0.0.1:0 in dev mode against db; mutate may
// change the config first. The server stops when the test ends.
func Start(t testing.TB, db string, mutate func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Dev = true
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DB = db
	cfg.MasterKey = secret.NewMasterKey()
	cfg.AdminToken = secret.New(secret.AdminToken)
	cfg.UsageFlush = 100 * time.Millisecond
	cfg.ShutdownGrace = 5 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	// Passwords are hashed with a cheap argon2id in tests: its cost is
	// internal/secret's to test, and at 64 MiB a hash under the race
	// detector takes a second. Verification reads each hash's own
	// parameters, so nothing else changes.
	a.Users.Params = testPasswordParams
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	s := &Server{App: a, URL: scheme + "://" + a.Config.Addr, AdminToken: cfg.AdminToken, Admin: admin.New(a.AdminURL(), cfg.AdminToken),
		HTTP: &http.Client{Timeout: 10 * time.Second}}
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("apptest: Run: %v", err)
		}
	}
	t.Cleanup(s.Stop)
	return s
}

// testPasswordParams are the argon2id costs of passwords set in tests.
var testPasswordParams = secret.PasswordParams{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
