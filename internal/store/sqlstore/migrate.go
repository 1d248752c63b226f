package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migrate applies, in order, every NNNN_name.sql file in migrations that the
// database has not seen, each in its own transaction with its version row.
// The whole run holds the dialect's migration lock on one connection, so
// replicas starting together migrate one at a time.
func (s *DB) Migrate(ctx context.Context, migrations fs.FS) (applied int, err error) {
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return 0, err
	}
	sort.Strings(names)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if s.d.MigrationLock != "" {
		if _, err := conn.ExecContext(ctx, s.d.MigrationLock); err != nil {
			return 0, fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.Background(), s.d.MigrationUnlock) //nolint:errcheck // released with the session anyway
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return applied, fmt.Errorf("migrate: %s: name must start with a number", name)
		}
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return applied, err
		}
		did, err := s.migrateOne(ctx, conn, version, string(body))
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", name, err)
		}
		if did {
			applied++
		}
	}
	return applied, nil
}

// migrateOne applies one migration unless its version is recorded.
func (s *DB) migrateOne(ctx context.Context, conn *sql.Conn, version int, body string) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = $1`, version).Scan(&one); err {
	case nil:
		return false, nil
	case sql.ErrNoRows:
	default:
		return false, err
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
