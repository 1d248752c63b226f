package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

var ctx = context.Background()

// purgedTables are the tables housekeeping keeps bounded.
var purgedTables = []string{"opaque_tokens", "revocations", "auth_codes", "refresh_families", "refresh_tokens"}

// expiring writes rows the way constant traffic does, each one short-lived:
// an opaque token, a revoked JWT's deny-list entry, an authorization code,
// and a refresh family (with its token) past its retention.
type expiring struct {
	s        store.Store
	tenantID string
	clientID string
	n        int
}

func (e *expiring) add(t *testing.T, life time.Duration) {
	t.Helper()
	now := time.Now()
	e.n++
	id := fmt.Sprintf("hk%d", e.n)
	if err := e.s.CreateOpaqueToken(ctx, &store.OpaqueToken{Digest: id, ClientID: e.clientID, TenantID: e.tenantID,
		Subject: "s", IssuedAt: now, ExpiresAt: now.Add(life)}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Deny(ctx, map[string]time.Time{"jti:" + id: now.Add(life)}, store.Event{Time: now, Actor: "test", Action: "token.revoke", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.CreateAuthCode(ctx, &store.AuthCode{Digest: id, ClientID: e.clientID, TenantID: e.tenantID, UserID: "u",
		RedirectURI: "https://app.example/cb", ExpiresAt: now.Add(life)}, store.Event{Time: now, Actor: "test", Action: "oauth.authorize", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	// A family is kept for the longest token lifetime past its expiry.
	expired := now.Add(life - keys.MaxTokenLifetime)
	if err := e.s.CreateFamily(ctx, &store.RefreshFamily{ID: id, ClientID: e.clientID, TenantID: e.tenantID, UserID: "u",
		AuthTime: now, CreatedAt: now, ExpiresAt: expired, Generation: 1, RotatedAt: now}, id,
		store.Event{Time: now, Actor: "test", Action: "session.create", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
}

func counts(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range purgedTables {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func sqlDB(t *testing.T, s store.Store) *sql.DB {
	t.Helper()
	h, ok := store.Unwrap(s).(interface{ SQL() *sql.DB })
	if !ok {
		t.Fatalf("%T has no SQL handle", s)
	}
	return h.SQL()
}

func fixture(t *testing.T, s *apptest.Server) *expiring {
	t.Helper()
	if _, err := s.Admin.CreateTenant(ctx, admin.TenantInput{Name: ptr("acme")}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Admin.CreateClient(ctx, "acme", admin.ClientInput{Name: ptr("c")})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := s.Store.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	return &expiring{s: s.Store, tenantID: tn.ID, clientID: c.ClientID}
}

func ptr[T any](v T) *T { return &v }

// Under a constant stream of short-lived rows, housekeeping keeps every
// table it purges far below what the stream wrote, and empties them once
// the stream stops; a table left unpurged would hold every row.
func TestHousekeepingKeepsTablesBounded(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		s := apptest.Start(t, db(t), func(c *config.Config) { c.PurgeEvery = 100 * time.Millisecond })
		e := fixture(t, s)
		raw := sqlDB(t, s.Store)
		const rows = 400
		peak := map[string]int{}
		for i := range rows {
			e.add(t, 50*time.Millisecond)
			time.Sleep(5 * time.Millisecond)
			if i%20 == 19 {
				for table, n := range counts(t, raw) {
					peak[table] = max(peak[table], n)
				}
			}
		}
		for _, table := range purgedTables {
			if peak[table] == 0 || peak[table] > rows/2 {
				t.Errorf("%s peaked at %d rows of the %d written; want some, and at most half", table, peak[table], rows)
			}
		}
		waitFor(t, func() bool {
			for _, n := range counts(t, raw) {
				if n != 0 {
					return false
				}
			}
			return true
		})
		for _, table := range []string{"tokens", "auth_codes", "refresh_families"} {
			if n := purged(t, s.App, table); n < rows {
				t.Errorf("gatehouse_purged_rows_total{table=%q} = %v, want at least %d", table, n, rows)
			}
		}
	})
}

// Replicas purge under one lock: while another holds it, none of them
// purges; when it is released, one of them catches up in batches.
func TestHousekeepingTakesTheLock(t *testing.T) {
	if pgtest.ServerURL() == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES not set")
	}
	db := pgtest.URL(t)
	fast := func(c *config.Config) { c.PurgeEvery = 100 * time.Millisecond }
	a := apptest.Start(t, db, fast)
	apptest.Start(t, db, func(c *config.Config) { fast(c); c.MasterKey = a.Config.MasterKey })
	e := fixture(t, a)
	raw := sqlDB(t, a.Store)

	unlock, ok, err := a.Store.TryLock(ctx, "housekeeping") // a third party: an operator's job, say
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	const rows = 1200 // more than two batches
	for range rows {
		e.add(t, -time.Second) // already expired
	}
	time.Sleep(500 * time.Millisecond) // five purge rounds on each replica
	if n := counts(t, raw)["opaque_tokens"]; n != rows {
		unlock()
		t.Fatalf("%d of %d expired tokens left while the lock was held elsewhere; a replica purged without it", n, rows)
	}
	unlock()
	waitFor(t, func() bool { return counts(t, raw)["opaque_tokens"] == 0 && counts(t, raw)["refresh_tokens"] == 0 })
}

// purged reads gatehouse_purged_rows_total{table} from the app's registry.
func purged(t *testing.T, a *app.App, table string) float64 {
	t.Helper()
	mfs, err := a.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_purged_rows_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" && l.GetValue() == table {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}

// With --key-rotate-every, the replica holding the housekeeping lock
// rotates a key older than the interval, publishing the new one ahead;
// a young key is left alone.
func TestScheduledKeyRotation(t *testing.T) {
	db := apptest.SQLite(t)
	mk := secret.NewMasterKey()
	// A deployment whose only key is two hours old.
	s, err := app.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := secret.ParseMasterKey(mk)
	sealer, _ := secret.NewSealer(raw)
	old := &keys.Manager{Store: s, Sealer: sealer, Alg: jose.ES256, Overlap: keys.MaxTokenLifetime,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}
	if err := old.Load(ctx); err != nil {
		t.Fatal(err)
	}
	first := old.Current().ID
	s.Close()

	srv := apptest.Start(t, db, func(c *config.Config) {
		c.MasterKey, c.KeyRotateEvery, c.KeyPublishAhead, c.PurgeEvery = mk, time.Hour, 10*time.Minute, 100*time.Millisecond
	})
	var ks []admin.Key
	waitFor(t, func() bool {
		ks, err = srv.Admin.ListKeys(ctx)
		return err == nil && len(ks) == 2
	})
	time.Sleep(500 * time.Millisecond) // more rounds: the new key is young, no third one
	if ks, _ = srv.Admin.ListKeys(ctx); len(ks) != 2 {
		t.Fatalf("%d keys after more rounds, want 2: a young key was rotated again", len(ks))
	}
	for _, k := range ks {
		switch {
		case k.KID == first && !k.Current:
			t.Errorf("the old key stopped signing before the new one's time")
		case k.KID != first && (k.Current || k.ActivatesAt.Before(time.Now().Add(9*time.Minute))):
			t.Errorf("the scheduled key %+v is not published ahead by --key-publish-ahead", k)
		}
	}
	if !hasAudit(t, srv, "key.rotate") {
		t.Error("no key.rotate event for the scheduled rotation")
	}
}

func hasAudit(t *testing.T, s *apptest.Server, action string) bool {
	t.Helper()
	evs, err := s.Admin.Audit(ctx, "", admin.AuditQuery{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs.Items) > 0
}
