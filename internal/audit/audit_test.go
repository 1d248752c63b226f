package audit_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// One event that cannot be written does not take its batch down; events
// recorded after Close are counted as dropped instead of panicking.
func TestRecorder(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := audit.NewRecorder(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	good := func(i int) store.Event {
		return store.Event{Time: time.Now(), TenantID: "t1", Action: "client.auth_failed", Outcome: audit.Failure, Target: strings.Repeat("x", i)}
	}
	r.Record(good(1))
	r.Record(store.Event{Time: time.Now(), TenantID: "t1", Action: "bad", Detail: map[string]any{"c": make(chan int)}})
	r.Record(good(2))
	r.Close()
	r.Record(good(3))
	evs, err := s.ListEvents(ctx, store.EventQuery{TenantID: "t1"})
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events written, %v (want the two good ones)", len(evs), err)
	}
	if r.Dropped() != 2 {
		t.Fatalf("dropped %d, want 2 (the bad one and the late one)", r.Dropped())
	}
}

// Events carry cleaned request metadata.
func TestNewCleansMetadata(t *testing.T) {
	ctx := audit.WithMeta(context.Background(), audit.Meta{IP: "192.0.2.1", UserAgent: "a\x00b\xff" + strings.Repeat("é", 300)})
	ev := audit.New(ctx, time.Now(), "t", "client:x\x00", "client.auth_failed", "y", audit.Failure)
	if strings.ContainsRune(ev.UserAgent, 0) || strings.ContainsRune(ev.Actor, 0) || len(ev.UserAgent) > 256 || !strings.HasPrefix(ev.UserAgent, "a?b\uFFFD") || ev.IP != "192.0.2.1" {
		t.Fatalf("%+v", ev)
	}
}
