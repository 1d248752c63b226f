package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Dialect is what a backend tells the shared implementation.
type Dialect struct {
	Name string
	// ForUpdate is appended to a SELECT that is followed by an UPDATE of the
	// same row in one transaction (" FOR UPDATE" on PostgreSQL; SQLite takes
	// the write lock at BEGIN IMMEDIATE instead).
	ForUpdate string
	// MigrationLock and MigrationUnlock bracket a migration run on one
	// connection so that replicas starting together migrate one at a time
	// ("" for none).
	MigrationLock, MigrationUnlock string
	// TryLock and Unlock take and release a session-level lock named by
	// their one int64 argument ("" for none: TryLock always succeeds).
	TryLock, Unlock string
	// Classify maps a driver error to a store sentinel, or returns nil.
	Classify func(error) error
}

// DB is a store.Store over database/sql.
type DB struct {
	db      *sql.DB
	d       Dialect
	timeout time.Duration
}

var _ store.Store = (*DB)(nil)

// New wraps an open database. Run Migrate before use.
func New(db *sql.DB, d Dialect) *DB { return &DB{db: db, d: d} }

// SetTimeout bounds every store call (0: no bound beyond the caller's
// context), so that requests fail fast with ErrUnavailable when the
// database stops answering rather than waiting on a dead connection.
func (s *DB) SetTimeout(d time.Duration) { s.timeout = d }

// bound applies the store timeout to ctx, unless ctx ends sooner.
func (s *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= s.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// SQL returns the underlying handle (for backends' own tests and tools).
func (s *DB) SQL() *sql.DB { return s.db }

// Ping implements store.Store.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// TryLock implements store.Store: the lock belongs to one pooled
// connection, kept out of the pool until unlock.
func (s *DB) TryLock(ctx context.Context, name string) (func(), bool, error) {
	if s.d.TryLock == "" {
		return func() {}, true, nil
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	key := int64(h.Sum64())
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, s.wrap(err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, s.d.TryLock, key).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, s.wrap(err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Should the unlock fail, Close would put the connection back in
		// the pool still holding the lock: mark it bad so that Close
		// discards it, ending the session, which releases the lock.
		if _, err := conn.ExecContext(ctx, s.d.Unlock, key); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the point is the error
		}
		conn.Close()
	}, true, nil
}

// Close implements store.Store.
func (s *DB) Close() error { return s.db.Close() }

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx runs fn in a transaction and commits it when fn returns nil.
func (s *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return s.wrap(err)
	}
	return s.wrap(tx.Commit())
}

// wrap turns driver errors into store sentinels where one applies.
func (s *DB) wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	for _, sentinel := range []error{store.ErrNotFound, store.ErrConflict, store.ErrReused, store.ErrLimit, store.ErrUnavailable} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	if s.d.Classify != nil {
		if sentinel := s.d.Classify(err); sentinel != nil {
			return fmt.Errorf("%w: %v", sentinel, err)
		}
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// affected returns ErrNotFound when a statement touched no row.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Times are stored as Unix microseconds, UTC.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func optMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromOptMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sqlstore: marshal: " + err.Error()) // only our own record types reach here
	}
	return string(b)
}

func fromJSON(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("sqlstore: corrupt JSON column: %w", err)
	}
	return nil
}

func limit(n int) int {
	if n <= 0 || n > 1000 {
		return 100
	}
	return n
}
