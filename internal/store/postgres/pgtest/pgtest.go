// Package pgtest gives tests a fresh PostgreSQL database of their own.
//
// The suite runs when GATEHOUSE_TEST_POSTGRES is set: to a server URL, or to
// "1" for postgres://postgres@127.0.0.1:5432/postgres. Each call creates a
// uniquely named database and drops it when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server used when GATEHOUSE_TEST_POSTGRES is "1".
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the configured server URL, or "" when the PostgreSQL
// suite is off.
func ServerURL() string {
	v := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	switch v {
	case "", "0", "false":
		return ""
	case "1", "true":
		return DefaultURL
	}
	return v
}

// URL creates a fresh database and returns its URL, or skips the test when
// the PostgreSQL suite is off.
func URL(t testing.TB) string {
	t.Helper()
	server := ServerURL()
	if server == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: GATEHOUSE_TEST_POSTGRES is set but PostgreSQL is unreachable: %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "gatehouse_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
