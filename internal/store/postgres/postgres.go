// Package postgres opens the PostgreSQL backend through pgx/v5. Replicas that
// start together migrate one at a time under a session advisory lock.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the embedded schema files.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

var dialect = sqlstore.Dialect{
	Name:            "postgres",
	ForUpdate:       " FOR UPDATE",
	MigrationLock:   "SELECT pg_advisory_lock(7243911)",
	MigrationUnlock: "SELECT pg_advisory_unlock(7243911)",
	TryLock:         "SELECT pg_try_advisory_lock($1)",
	Unlock:          "SELECT pg_advisory_unlock($1)",
	Classify:        classify,
}

// classify maps pgx errors to store sentinels: constraint violations, and
// the errors of a server that cannot be reached or is going away.
func classify(err error) error {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		switch {
		case e.Code == "23505": // unique_violation
			return store.ErrConflict
		case e.Code == "23503": // foreign_key_violation
			return store.ErrNotFound
		case strings.HasPrefix(e.Code, "08"), // connection_exception
			e.Code == "57P01", e.Code == "57P02", e.Code == "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
			e.Code == "53300": // too_many_connections
			return store.ErrUnavailable
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return store.ErrUnavailable
	}
	return nil
}

// DB is the PostgreSQL store; Pool is exposed for LISTEN/NOTIFY.
type DB struct {
	*sqlstore.DB
	Pool *pgxpool.Pool
}

// Close closes the SQL handle and the pool (a nil DB has nothing to close).
func (d *DB) Close() error {
	if d == nil {
		return nil
	}
	err := d.DB.Close()
	d.Pool.Close()
	return err
}

// Open connects to the database at url and applies pending migrations.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 { // no connect_timeout in the URL
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var db *sql.DB = stdlib.OpenDBFromPool(pool)
	s := &DB{DB: sqlstore.New(db, dialect), Pool: pool}
	if _, err := s.Migrate(ctx, Migrations()); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
