package storetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const day = 24 * time.Hour

func newWebhook(tenantID, id, dedup string, at time.Time) *store.WebhookEvent {
	return &store.WebhookEvent{ID: id, TenantID: tenantID, Type: "ping", Data: []byte(`{"n":1}`), DedupKey: dedup, CreatedAt: at}
}

func mustEnqueue(t *testing.T, s store.Store, e *store.WebhookEvent) {
	t.Helper()
	if err := s.EnqueueWebhook(ctx, e); err != nil {
		t.Fatalf("EnqueueWebhook(%s): %v", e.ID, err)
	}
}

func mustWebhook(t *testing.T, s store.Store, id string) *store.WebhookEvent {
	t.Helper()
	e, err := s.GetWebhook(ctx, id)
	if err != nil {
		t.Fatalf("GetWebhook(%s): %v", id, err)
	}
	return e
}

func webhookIDs(es []store.WebhookEvent) string {
	ids := []string{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return fmt.Sprint(ids)
}

func testWebhooksDedup(t *testing.T, s store.Store) {
	tn, other := mustTenant(t, s, "acme"), mustTenant(t, s, "other")
	at := now()
	mustEnqueue(t, s, newWebhook(tn.ID, "e1", "k", at))
	mustEnqueue(t, s, newWebhook(tn.ID, "e2", "k", at))    // same key: nothing stored
	mustEnqueue(t, s, newWebhook(other.ID, "e3", "k", at)) // keys are per tenant
	mustEnqueue(t, s, newWebhook(tn.ID, "e4", "", at))     // no key: never deduplicated
	mustEnqueue(t, s, newWebhook(tn.ID, "e5", "", at))
	_, err := s.GetWebhook(ctx, "e2")
	wantErr(t, err, store.ErrNotFound)
	for _, id := range []string{"e1", "e3", "e4", "e5"} {
		mustWebhook(t, s, id)
	}
	wantErr(t, s.EnqueueWebhook(ctx, newWebhook(tn.ID, "e1", "other-key", at)), store.ErrConflict)
	wantErr(t, s.EnqueueWebhook(ctx, newWebhook("t_missing", "e6", "", at)), store.ErrNotFound)

	got := mustWebhook(t, s, "e1")
	if got.TenantID != tn.ID || got.Type != "ping" || string(got.Data) != `{"n":1}` || got.DedupKey != "k" ||
		!got.CreatedAt.Equal(at) || !got.NextAttemptAt.Equal(at) || got.Attempts != 0 || got.Status() != store.WebhookPending {
		t.Fatalf("GetWebhook = %+v", got)
	}
	if err := s.DeleteTenant(ctx, tn.ID, ev("tenant.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetWebhook(ctx, "e1")
	wantErr(t, err, store.ErrNotFound)
}

func testWebhooksClaimFinish(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	t0 := now()
	mustEnqueue(t, s, newWebhook(tn.ID, "a", "", t0))
	later := newWebhook(tn.ID, "b", "", t0)
	later.NextAttemptAt = t0.Add(time.Hour)
	mustEnqueue(t, s, later)

	got, err := s.ClaimWebhooks(ctx, t0, time.Minute, 10)
	if err != nil || webhookIDs(got) != "[a]" || got[0].Attempts != 1 || !got[0].NextAttemptAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ClaimWebhooks = %+v, %v", got, err)
	}
	if got, _ := s.ClaimWebhooks(ctx, t0.Add(59*time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("a leased event was claimed again: %s", webhookIDs(got))
	}
	// A lease that ends unfinished (a replica died) makes the event due.
	got, _ = s.ClaimWebhooks(ctx, t0.Add(time.Minute), time.Minute, 10)
	if webhookIDs(got) != "[a]" || got[0].Attempts != 2 {
		t.Fatalf("after the lease: %+v", got)
	}

	retry := t0.Add(10 * time.Minute)
	// The first try outlived its lease: its late failure changes nothing.
	if err := s.FinishWebhook(ctx, "a", 1, time.Time{}, t0.Add(time.Hour), "late"); err != nil {
		t.Fatal(err)
	}
	if e := mustWebhook(t, s, "a"); e.LastError != "" || !e.NextAttemptAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("a stale try's failure was recorded: %+v", e)
	}
	if err := s.FinishWebhook(ctx, "a", 2, time.Time{}, retry, "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	if e := mustWebhook(t, s, "a"); !e.NextAttemptAt.Equal(retry) || e.LastError != "HTTP 500" || e.Status() != store.WebhookPending {
		t.Fatalf("after a failure: %+v", e)
	}
	got, _ = s.ClaimWebhooks(ctx, retry, time.Minute, 10)
	if webhookIDs(got) != "[a]" || got[0].Attempts != 3 {
		t.Fatalf("retry: %+v", got)
	}
	done := retry.Add(time.Second)
	if err := s.FinishWebhook(ctx, "a", 3, done, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	// A late failure of an earlier try does not undo the delivery.
	if err := s.FinishWebhook(ctx, "a", 3, time.Time{}, retry.Add(time.Hour), "timeout"); err != nil {
		t.Fatal(err)
	}
	if e := mustWebhook(t, s, "a"); !e.DeliveredAt.Equal(done) || !e.NextAttemptAt.IsZero() || e.Status() != store.WebhookDelivered {
		t.Fatalf("after delivery: %+v", e)
	}
	// Abandoned: no try left, the error kept.
	if err := s.FinishWebhook(ctx, "b", mustWebhook(t, s, "b").Attempts, time.Time{}, time.Time{}, "HTTP 410"); err != nil {
		t.Fatal(err)
	}
	if e := mustWebhook(t, s, "b"); e.LastError != "HTTP 410" || e.Status() != store.WebhookAbandoned {
		t.Fatalf("after abandonment: %+v", e)
	}
	if got, _ := s.ClaimWebhooks(ctx, t0.Add(100*day), time.Minute, 10); len(got) != 0 {
		t.Fatalf("finished events were claimed: %s", webhookIDs(got))
	}
	wantErr(t, s.FinishWebhook(ctx, "nope", 1, time.Time{}, retry, "x"), store.ErrNotFound)
}

// Replicas claiming together never get the same event, and between them
// get every due one.
func testWebhooksClaimConcurrent(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	t0 := now()
	const events, workers = 40, 8
	for i := range events {
		mustEnqueue(t, s, newWebhook(tn.ID, fmt.Sprintf("e%02d", i), "", t0))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimWebhooks(ctx, t0, time.Minute, 3)
				if err != nil || len(got) == 0 {
					errs[w] = err
					return
				}
				mu.Lock()
				for _, e := range got {
					seen[e.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("ClaimWebhooks: %v", err)
		}
	}
	if len(seen) != events {
		t.Fatalf("%d distinct events claimed, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s claimed %d times", id, n)
		}
	}
}

func testWebhooksPurge(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	old, cut := now().Add(-40*day), now().Add(-30*day)
	for _, id := range []string{"delivered", "abandoned", "pending"} {
		mustEnqueue(t, s, newWebhook(tn.ID, id, "", old))
	}
	mustEnqueue(t, s, newWebhook(tn.ID, "recent", "", now()))
	for id, delivered := range map[string]time.Time{"delivered": old, "abandoned": {}, "recent": now()} {
		if err := s.FinishWebhook(ctx, id, 0, delivered, time.Time{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.PurgeWebhooks(ctx, cut, 1); err != nil || n != 1 {
		t.Fatalf("PurgeWebhooks(limit 1) = %d, %v", n, err)
	}
	if n, err := s.PurgeWebhooks(ctx, cut, 100); err != nil || n != 1 {
		t.Fatalf("PurgeWebhooks = %d, %v", n, err)
	}
	for _, id := range []string{"delivered", "abandoned"} {
		_, err := s.GetWebhook(ctx, id)
		wantErr(t, err, store.ErrNotFound)
	}
	mustWebhook(t, s, "pending") // still trying: never purged
	mustWebhook(t, s, "recent")
}

// expiryEvents claims every pending event and returns the pat.expiring
// ones as "pat:days_left", sorted.
func expiryEvents(t *testing.T, s store.Store, tenantID string) []string {
	t.Helper()
	got, err := s.ClaimWebhooks(ctx, now().Add(1000*day), time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range got {
		var d store.PATExpiring
		if err := json.Unmarshal(e.Data, &d); err != nil || e.Type != store.WebhookPATExpiring || e.TenantID != tenantID {
			t.Fatalf("unexpected event %+v (%s): %v", e, e.Data, err)
		}
		if want := fmt.Sprintf("pat.expiring:%s:%d", d.PATID, d.DaysLeft); e.DedupKey != want {
			t.Fatalf("dedup key %q, want %q", e.DedupKey, want)
		}
		out = append(out, fmt.Sprintf("%s:%d", d.PATID, d.DaysLeft))
		if err := s.FinishWebhook(ctx, e.ID, e.Attempts, now(), time.Time{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(out)
	return out
}

func testPATExpiryNotices(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	quiet := mustTenant(t, s, "quiet") // no webhook
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *store.Tenant) error {
		t.Settings.WebhookURL = "https://hooks.example/gatehouse"
		return nil
	}, ev("tenant.update", tn.ID)); err != nil {
		t.Fatal(err)
	}
	mustUser(t, s, tn.ID, "u1", "ada@example.com")
	mustUser(t, s, quiet.ID, "u2", "bob@example.com")
	t0 := now()
	pat := func(tenantID, userID, id string, created time.Time, life time.Duration) *store.PAT {
		p := newPAT(tenantID, userID, id, time.Time{})
		if p.CreatedAt = created; life > 0 {
			p.ExpiresAt = created.Add(life)
		}
		if err := s.CreatePAT(ctx, p, 100, ev("pat.create", tenantID)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	long := pat(tn.ID, "u1", "p30", t0, 30*day)
	pat(tn.ID, "u1", "p3", t0, 3*day)                              // created inside its 7-day mark
	pat(tn.ID, "u1", "p12h", t0, 12*time.Hour)                     // inside both marks: the 1-day notice now
	pat(tn.ID, "u1", "late", t0.Add(-30*day), 30*day+10*time.Hour) // both marks passed unseen: the 1-day notice only
	pat(tn.ID, "u1", "never", t0, 0)
	pat(tn.ID, "u1", "rev", t0.Add(-30*day), 35*day)
	if _, err := s.RevokePAT(ctx, tn.ID, "", "rev", t0, ev("pat.revoke", tn.ID)); err != nil {
		t.Fatal(err)
	}
	pat(quiet.ID, "u2", "quiet", t0.Add(-30*day), 35*day)

	steps := []struct {
		at     time.Time
		marked int
		events string
	}{
		{t0, 4, "[late:1 p12h:1]"},     // p3 and quiet marked without an event
		{t0.Add(time.Minute), 0, "[]"}, // nothing twice
		{t0.Add(2*day + time.Minute), 1, "[p3:1]"},
		{t0.Add(4*day + time.Minute), 1, "[]"}, // quiet's 1-day mark: still no webhook
		{long.ExpiresAt.Add(-7*day + time.Second), 1, "[p30:7]"},
		{long.ExpiresAt.Add(-7*day + time.Hour), 0, "[]"},
		{long.ExpiresAt.Add(-day), 1, "[p30:1]"},
		{long.ExpiresAt.Add(time.Hour), 0, "[]"},
	}
	for _, st := range steps {
		n, err := s.EnqueuePATExpiryNotices(ctx, st.at, 100)
		if got := fmt.Sprint(expiryEvents(t, s, tn.ID)); err != nil || n != st.marked || got != st.events {
			t.Fatalf("at +%s: marked %d, events %s, %v; want %d, %s", st.at.Sub(t0), n, got, err, st.marked, st.events)
		}
	}
}

// Concurrent scans (replicas) send each notice once, and a limit leaves
// the rest for the next call.
func testPATExpiryConcurrent(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *store.Tenant) error {
		t.Settings.WebhookURL = "https://hooks.example/gatehouse"
		return nil
	}, ev("tenant.update", tn.ID)); err != nil {
		t.Fatal(err)
	}
	mustUser(t, s, tn.ID, "u1", "ada@example.com")
	const tokens, workers = 20, 4
	for i := range tokens {
		p := newPAT(tn.ID, "u1", fmt.Sprintf("p%02d", i), now().Add(5*day))
		p.CreatedAt = now().Add(-30 * day)
		if err := s.CreatePAT(ctx, p, 100, ev("pat.create", tn.ID)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	marked := make([]int, workers)
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := s.EnqueuePATExpiryNotices(ctx, now(), 3)
				marked[w] += n
				if err != nil || n < 3 {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for w := range workers {
		if errs[w] != nil {
			t.Fatalf("EnqueuePATExpiryNotices: %v", errs[w])
		}
		total += marked[w]
	}
	events := expiryEvents(t, s, tn.ID)
	if total != tokens || len(events) != tokens {
		t.Fatalf("marked %d, %d events; want %d of each", total, len(events), tokens)
	}
	for i, e := range events {
		if want := fmt.Sprintf("p%02d:7", i); e != want {
			t.Fatalf("event %d is %s, want %s", i, e, want)
		}
	}
}
