package postgres_test

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Replicas that start together on an empty database migrate one at a time
// under the advisory lock; none fails and the schema is applied once.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.URL(t)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			s, err := postgres.Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// One row per embedded migration (0001-0006 today, and any added since).
	files, _ := fs.Glob(postgres.Migrations(), "*.sql")
	var n int
	if err := s.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) || n < 6 {
		t.Fatalf("schema_migrations has %d rows, %v; want %d", n, err, len(files))
	}
}

// The housekeeping lock is held by one replica at a time: a second store
// (another replica) is refused until the holder unlocks, and a holder whose
// connection ends (a crashed replica) releases it.
func TestTryLockAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	open := func() *postgres.DB {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	unlock, ok, err := a.TryLock(ctx, "housekeeping")
	if err != nil || !ok {
		t.Fatalf("first TryLock = %v, %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "housekeeping"); err != nil || ok {
		t.Fatalf("second replica took a held lock: %v, %v", ok, err)
	}
	if u, ok, err := b.TryLock(ctx, "another job"); err != nil || !ok {
		t.Fatalf("a lock of another name: %v, %v", ok, err)
	} else {
		u()
	}
	unlock()
	unlockB, ok, err := b.TryLock(ctx, "housekeeping")
	if err != nil || !ok {
		t.Fatalf("TryLock after the holder unlocked = %v, %v", ok, err)
	}
	unlockB()

	// A holder whose session dies without unlocking (a crashed replica)
	// frees the lock with it.
	unlockA, ok, _ := a.TryLock(ctx, "housekeeping")
	if !ok {
		t.Fatal("TryLock on a free lock failed")
	}
	t.Cleanup(unlockA) // returns the dead connection, so that Close need not wait for it
	if _, err := b.SQL().ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	// pg_terminate_backend only signals the session: it ends soon after.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		u, ok, err := b.TryLock(ctx, "housekeeping")
		if ok {
			u()
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("lock of a dead session not released: %v", err)
		}
	}
}
