package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func newPAT(tenantID, userID, id string, expires time.Time) *store.PAT {
	return &store.PAT{ID: id, TenantID: tenantID, UserID: userID, Name: "token " + id, Digest: "digest-" + id,
		Prefix: "gate_pat_" + id, CreatedAt: now(), ExpiresAt: expires}
}

func patIDs(ps []store.PAT) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func testPATs(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "other")
	mustUser(t, s, tn.ID, "u1", "ada@example.com")
	mustUser(t, s, other.ID, "u2", "bob@example.com")

	soon := now().Add(time.Hour)
	p := newPAT(tn.ID, "u1", "p1", soon)
	if err := s.CreatePAT(ctx, p, 10, ev("pat.create", tn.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CreatePAT(ctx, newPAT(other.ID, "u1", "px", time.Time{}), 10, ev("pat.create", other.ID)), store.ErrNotFound)
	dup := newPAT(tn.ID, "u1", "p2", time.Time{})
	dup.Digest = p.Digest
	wantErr(t, s.CreatePAT(ctx, dup, 10, ev("pat.create", tn.ID)), store.ErrConflict)

	got, err := s.GetPATByDigest(ctx, p.Digest)
	if err != nil || got.ID != "p1" || got.UserID != "u1" || !got.ExpiresAt.Equal(soon) || !got.RevokedAt.IsZero() ||
		got.Prefix != p.Prefix || !got.CreatedAt.Equal(p.CreatedAt) || got.Status(now()) != store.PATActive {
		t.Fatalf("GetPATByDigest = %+v, %v", got, err)
	}
	_, err = s.GetPATByDigest(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	never := newPAT(tn.ID, "u1", "p3", time.Time{})
	never.CreatedAt = now().Add(time.Second)
	if err := s.CreatePAT(ctx, never, 10, ev("pat.create", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetPATByDigest(ctx, never.Digest); !got.ExpiresAt.IsZero() || got.Status(now().Add(1000*time.Hour)) != store.PATActive {
		t.Fatalf("a never-expiring token reads back %+v", got)
	}
	// Scopes: nil (all of the user's) and a restriction, even to none, read
	// back as they were written.
	if got, _ := s.GetPATByDigest(ctx, p.Digest); got.Scopes != nil {
		t.Fatalf("an unrestricted token reads back scopes %#v", got.Scopes)
	}
	mustUser(t, s, tn.ID, "u3", "cy@example.com")
	for i, scopes := range [][]string{{"submissions:read"}, {}} {
		narrow := newPAT(tn.ID, "u3", fmt.Sprint("narrow", i), time.Time{})
		narrow.Scopes = scopes
		if err := s.CreatePAT(ctx, narrow, 10, ev("pat.create", tn.ID)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetPATByDigest(ctx, narrow.Digest); got.Scopes == nil || fmt.Sprint(got.Scopes) != fmt.Sprint(scopes) {
			t.Fatalf("a token restricted to %v reads back %#v", scopes, got.Scopes)
		}
	}

	// Usage: batched, newest wins, unknown ids skipped.
	used := now().Add(time.Minute)
	if err := s.AddPATUsage(ctx, []store.PATUsage{{ID: "p1", At: used, IP: "192.0.2.1"}, {ID: "gone", At: used}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPATUsage(ctx, []store.PATUsage{{ID: "p1", At: used.Add(-time.Second), IP: "192.0.2.9"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetPATByDigest(ctx, p.Digest); !got.LastUsedAt.Equal(used) || got.LastUsedIP != "192.0.2.1" {
		t.Fatalf("after usage: %+v", got)
	}

	// Expiring: live tokens expiring in the window only.
	exp, err := s.ListExpiringPATs(ctx, tn.ID, now(), now().Add(2*time.Hour))
	if err != nil || fmt.Sprint(patIDs(exp)) != "[p1]" {
		t.Fatalf("ListExpiringPATs = %v, %v", patIDs(exp), err)
	}
	if exp, _ := s.ListExpiringPATs(ctx, other.ID, now(), now().Add(2*time.Hour)); len(exp) != 0 {
		t.Fatalf("another tenant's expiring list = %v", patIDs(exp))
	}

	// Revocation: scoped to tenant and owner, irreversible, idempotent.
	_, err = s.RevokePAT(ctx, other.ID, "", "p1", now(), ev("pat.revoke", other.ID))
	wantErr(t, err, store.ErrNotFound)
	_, err = s.RevokePAT(ctx, tn.ID, "u9", "p1", now(), ev("pat.revoke", tn.ID))
	wantErr(t, err, store.ErrNotFound)
	at := now()
	r, err := s.RevokePAT(ctx, tn.ID, "u1", "p1", at, ev("pat.revoke", tn.ID))
	if err != nil || !r.RevokedAt.Equal(at) || r.Digest != p.Digest {
		t.Fatalf("RevokePAT = %+v, %v", r, err)
	}
	if r, err := s.RevokePAT(ctx, tn.ID, "", "p1", at.Add(time.Hour), ev("pat.revoke", tn.ID)); err != nil || !r.RevokedAt.Equal(at) {
		t.Fatalf("second RevokePAT = %+v, %v", r, err)
	}
	events, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "pat.revoke"})
	if len(events) != 1 {
		t.Fatalf("%d revoke events, want 1", len(events))
	}
	live, err := s.ListPATs(ctx, tn.ID, "u1", false)
	if err != nil || fmt.Sprint(patIDs(live)) != "[p3]" {
		t.Fatalf("ListPATs(live) = %v, %v", patIDs(live), err)
	}
	all, _ := s.ListPATs(ctx, tn.ID, "u1", true)
	if fmt.Sprint(patIDs(all)) != "[p3 p1]" || all[1].Status(now()) != store.PATRevoked {
		t.Fatalf("ListPATs(all) = %v", patIDs(all))
	}
	if exp, _ := s.ListExpiringPATs(ctx, tn.ID, now(), now().Add(2*time.Hour)); len(exp) != 0 {
		t.Fatalf("a revoked token is still expiring: %v", patIDs(exp))
	}

	// Deleting the user takes the tokens along.
	if err := s.DeleteUser(ctx, "u1", ev("user.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetPATByDigest(ctx, never.Digest)
	wantErr(t, err, store.ErrNotFound)
}

func testPATLimit(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustUser(t, s, tn.ID, "u1", "ada@example.com")
	// Revoked and expired tokens do not count.
	if err := s.CreatePAT(ctx, newPAT(tn.ID, "u1", "old", now().Add(-time.Second)), 3, ev("pat.create", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePAT(ctx, newPAT(tn.ID, "u1", "rev", time.Time{}), 3, ev("pat.create", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokePAT(ctx, tn.ID, "u1", "rev", now(), ev("pat.revoke", tn.ID)); err != nil {
		t.Fatal(err)
	}

	const limit, workers = 3, 8
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreatePAT(ctx, newPAT(tn.ID, "u1", fmt.Sprintf("c%d", i), time.Time{}), limit, ev("pat.create", tn.ID))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var le *store.PATLimitError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &le) && errors.Is(err, store.ErrLimit) && le.Limit == limit:
		default:
			t.Fatalf("CreatePAT: %v", err)
		}
	}
	if ok != limit {
		t.Fatalf("%d of %d concurrent creations succeeded, want exactly %d", ok, workers, limit)
	}
	live, _ := s.ListPATs(ctx, tn.ID, "u1", false)
	if len(live) != limit+1 { // the expired one is listed, not counted
		t.Fatalf("%d unrevoked tokens, want %d", len(live), limit+1)
	}
}
