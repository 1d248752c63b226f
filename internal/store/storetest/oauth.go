package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func newFamily(tenantID, clientID, id string) *store.RefreshFamily {
	return &store.RefreshFamily{ID: id, ClientID: clientID, TenantID: tenantID, UserID: "u1", Scope: "read",
		AuthTime: now(), CreatedAt: now(), ExpiresAt: now().Add(30 * 24 * time.Hour), Generation: 1, RotatedAt: now(),
		AccessTokens: []store.IssuedToken{{JTI: "at-" + id, ExpiresAt: now().Add(time.Hour)}}}
}

func mustCode(t *testing.T, s store.Store, tenantID, clientID, digest string) *store.AuthCode {
	t.Helper()
	c := &store.AuthCode{Digest: digest, ClientID: clientID, TenantID: tenantID, UserID: "u1", RedirectURI: "https://app.example/cb",
		Scope: "read", Nonce: "n", Challenge: "ch", AuthTime: now(), ExpiresAt: now().Add(time.Minute)}
	if err := s.CreateAuthCode(ctx, c, ev("oauth.authorize", tenantID)); err != nil {
		t.Fatal(err)
	}
	return c
}

// A code is redeemed once; a second redemption revokes the family the
// first started, and denies its access tokens, in a committed transaction.
func testAuthCodes(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	want := mustCode(t, s, tn.ID, "c1", "code1")
	got, err := s.GetAuthCode(ctx, "code1")
	if err != nil || *got != *want {
		t.Fatalf("GetAuthCode = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.GetAuthCode(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	fam := newFamily(tn.ID, "c1", "f1")
	if err := s.RedeemAuthCode(ctx, "code1", now(), fam, "rt1", ev("oauth.code", tn.ID), ev("oauth.code_reuse", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAuthCode(ctx, "code1"); got.UsedAt.IsZero() || got.FamilyID != "f1" {
		t.Fatalf("redeemed code = %+v", got)
	}
	err = s.RedeemAuthCode(ctx, "code1", now(), newFamily(tn.ID, "c1", "f2"), "rt2", ev("oauth.code", tn.ID), ev("oauth.code_reuse", tn.ID))
	if !errors.Is(err, store.ErrReused) {
		t.Fatalf("second redemption: %v, want ErrReused", err)
	}
	if denied, _ := s.IsDenied(ctx, "jti:at-f1"); !denied {
		t.Error("code reuse must deny the access tokens the first redemption issued")
	}
	if denied, _ := s.IsDenied(ctx, "fam:f1"); !denied {
		t.Error("code reuse must deny the family the first redemption started")
	}
	f, err := s.UpdateFamilyByToken(ctx, "rt1", func(f *store.RefreshFamily, gen int64) (string, *store.Event, error) { return "", nil, nil })
	if err != nil || f.RevokedAt.IsZero() {
		t.Fatalf("family after code reuse: %+v %v", f, err)
	}
	if _, err := s.UpdateFamilyByToken(ctx, "rt2", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused redemption's token must not exist: %v", err)
	}
	if err := s.RedeemAuthCode(ctx, "nope", now(), newFamily(tn.ID, "c1", "f3"), "rt3", ev("x", ""), ev("y", "")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	events, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "oauth.code_reuse"})
	if len(events) != 1 {
		t.Errorf("code reuse events = %d, want 1", len(events))
	}
}

// rotate is the domain's rotation in miniature: the token must be the
// current one; the family moves on one generation.
func rotate(newToken string) func(f *store.RefreshFamily, gen int64) (string, *store.Event, error) {
	return func(f *store.RefreshFamily, gen int64) (string, *store.Event, error) {
		if gen != f.Generation || !f.RevokedAt.IsZero() {
			return "", nil, store.ErrReused
		}
		f.Generation++
		f.RotatedAt = now()
		return newToken, nil, nil
	}
}

// Two concurrent rotations with the same token: exactly one wins.
func testRefreshRotationConcurrent(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	mustCode(t, s, tn.ID, "c1", "code1")
	if err := s.RedeemAuthCode(ctx, "code1", now(), newFamily(tn.ID, "c1", "f1"), "rt1", ev("oauth.code", tn.ID), ev("x", tn.ID)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateFamilyByToken(ctx, "rt1", rotate("rt2-"+string(rune('a'+i))))
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, store.ErrReused):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d of %d concurrent rotations of one token won, want exactly 1", wins, n)
	}
	f, err := s.UpdateFamilyByToken(ctx, "rt1", func(f *store.RefreshFamily, gen int64) (string, *store.Event, error) {
		if gen != 1 || f.Generation != 2 {
			t.Errorf("old token at generation %d, family at %d; want 1 and 2", gen, f.Generation)
		}
		return "", nil, nil
	})
	if err != nil || f.Generation != 2 {
		t.Fatalf("%+v %v", f, err)
	}
}

// Revocation by filter reaches every matching family and only those, and
// denies their live access tokens; a failed update changes nothing.
func testRevokeFamilies(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	mustClient(t, s, tn.ID, "c2")
	for i, c := range []struct{ client, fam, user string }{{"c1", "f1", "u1"}, {"c1", "f2", "u2"}, {"c2", "f3", "u1"}} {
		code := "code" + c.fam
		mustCode(t, s, tn.ID, c.client, code)
		f := newFamily(tn.ID, c.client, c.fam)
		f.UserID = c.user
		if err := s.RedeemAuthCode(ctx, code, now(), f, "rt-"+c.fam, ev("oauth.code", tn.ID), ev("x", tn.ID)); err != nil {
			t.Fatal(i, err)
		}
	}
	// An update that fails is rolled back whole.
	boom := errors.New("boom")
	if _, err := s.UpdateFamilyByToken(ctx, "rt-f1", func(f *store.RefreshFamily, _ int64) (string, *store.Event, error) {
		f.RevokedAt = now()
		return "x", nil, boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	n, err := s.RevokeFamilies(ctx, store.FamilyFilter{TenantID: tn.ID, UserID: "u1"}, now(), ev("oauth.family_revoke", tn.ID))
	if err != nil || n != 2 {
		t.Fatalf("revoke u1's families = %d, %v; want 2", n, err)
	}
	for fam, revoked := range map[string]bool{"f1": true, "f2": false, "f3": true} {
		f, err := s.UpdateFamilyByToken(ctx, "rt-"+fam, func(*store.RefreshFamily, int64) (string, *store.Event, error) { return "", nil, nil })
		if err != nil || f.RevokedAt.IsZero() == revoked {
			t.Errorf("family %s: revoked %v, want %v (%v)", fam, !f.RevokedAt.IsZero(), revoked, err)
		}
		if denied, _ := s.IsDenied(ctx, "jti:at-"+fam); denied != revoked {
			t.Errorf("family %s access token denied = %v, want %v", fam, denied, revoked)
		}
		if denied, _ := s.IsDenied(ctx, "fam:"+fam); denied != revoked {
			t.Errorf("family %s denied = %v, want %v", fam, denied, revoked)
		}
	}
	if n, _ := s.RevokeFamilies(ctx, store.FamilyFilter{ClientID: "c1"}, now(), ev("oauth.family_revoke", tn.ID)); n != 1 {
		t.Errorf("revoking c1's families again revoked %d, want only the live one", n)
	}
	if _, err := s.RevokeFamilies(ctx, store.FamilyFilter{}, now(), ev("x", "")); err == nil {
		t.Error("an empty filter must be refused, not revoke everything")
	}
	// Deleting the client deletes its families and tokens.
	if err := s.DeleteClient(ctx, "c2", ev("client.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateFamilyByToken(ctx, "rt-f3", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of a deleted client's family: %v", err)
	}
}

// Housekeeping deletes codes and refresh families past their expiry, in
// batches of at most limit, with the families' refresh tokens.
func testPurgeCodesAndFamilies(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	t0 := now()
	for i, exp := range []time.Duration{-2 * time.Hour, -time.Hour, time.Hour} {
		c := mustCode(t, s, tn.ID, "c1", fmt.Sprintf("code%d", i))
		_ = c // mustCode sets a one-minute expiry; redeem two to hang families off them
		f := newFamily(tn.ID, "c1", fmt.Sprintf("f%d", i))
		f.ExpiresAt = t0.Add(exp)
		if err := s.RedeemAuthCode(ctx, c.Digest, t0, f, fmt.Sprintf("rt%d", i), ev("oauth.code", tn.ID), ev("x", tn.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.PurgeFamilies(ctx, t0, 1); err != nil || n != 1 {
		t.Fatalf("PurgeFamilies(limit 1) = %d, %v; want 1", n, err)
	}
	if n, err := s.PurgeFamilies(ctx, t0, 10); err != nil || n != 1 {
		t.Fatalf("PurgeFamilies = %d, %v; want the other expired family", n, err)
	}
	for i, want := range []bool{false, false, true} {
		_, _, err := s.GetFamilyByToken(ctx, fmt.Sprintf("rt%d", i))
		if (err == nil) != want {
			t.Fatalf("family %d after purge: %v (want kept: %v)", i, err, want)
		}
	}
	if n, err := s.PurgeAuthCodes(ctx, t0, 10); err != nil || n != 0 {
		t.Fatalf("PurgeAuthCodes before expiry = %d, %v", n, err)
	}
	if n, err := s.PurgeAuthCodes(ctx, t0.Add(2*time.Minute), 2); err != nil || n != 2 {
		t.Fatalf("PurgeAuthCodes(limit 2) = %d, %v", n, err)
	}
	if n, err := s.PurgeAuthCodes(ctx, t0.Add(2*time.Minute), 2); err != nil || n != 1 {
		t.Fatalf("PurgeAuthCodes, second batch = %d, %v", n, err)
	}
	if _, err := s.GetAuthCode(ctx, "code2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purged code: %v", err)
	}
}

// TryLock always succeeds on one handle; the PostgreSQL suite adds that a
// second holder is refused (see postgres_test.go).
func testTryLock(t *testing.T, s store.Store) {
	unlock, ok, err := s.TryLock(ctx, "housekeeping")
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	unlock()
	unlock2, ok, err := s.TryLock(ctx, "housekeeping")
	if err != nil || !ok {
		t.Fatalf("TryLock after unlock = %v, %v", ok, err)
	}
	unlock2()
}
