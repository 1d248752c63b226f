package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func newAPIKey(tenantID, userID, clientID, id string) *store.APIKey {
	return &store.APIKey{ID: id, TenantID: tenantID, UserID: userID, ClientID: clientID, Name: "key " + id,
		Digest: "digest-" + id, Prefix: "gate_ak_" + id, CreatedAt: now()}
}

// apiSession is a refresh family started by an API key: no client when
// the key acts for a user.
func apiSession(k *store.APIKey, id string) *store.RefreshFamily {
	return &store.RefreshFamily{ID: id, ClientID: k.ClientID, APIKeyID: k.ID, TenantID: k.TenantID, UserID: k.UserID,
		AuthTime: now(), CreatedAt: now(), ExpiresAt: now().Add(time.Hour), Generation: 1, RotatedAt: now(),
		AccessTokens: []store.IssuedToken{{JTI: "jti-" + id, ExpiresAt: now().Add(time.Hour)}}}
}

func testAPIKeys(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustUser(t, s, tn.ID, "u1", "ada@example.com")
	mustClient(t, s, tn.ID, "c1")

	k := newAPIKey(tn.ID, "u1", "", "k1")
	k.ExpiresAt = now().Add(24 * time.Hour)
	if err := s.CreateAPIKey(ctx, k, ev("api_key.create", tn.ID)); err != nil {
		t.Fatal(err)
	}
	dup := newAPIKey(tn.ID, "", "c1", "k2")
	dup.Digest = k.Digest
	wantErr(t, s.CreateAPIKey(ctx, dup, ev("api_key.create", tn.ID)), store.ErrConflict)
	wantErr(t, s.CreateAPIKey(ctx, newAPIKey("t_nope", "u1", "", "k9"), ev("api_key.create", "")), store.ErrNotFound)
	ck := newAPIKey(tn.ID, "", "c1", "k2")
	ck.CreatedAt = now().Add(time.Second)
	if err := s.CreateAPIKey(ctx, ck, ev("api_key.create", tn.ID)); err != nil {
		t.Fatal(err)
	}

	got, err := s.GetAPIKeyByDigest(ctx, k.Digest)
	if err != nil || got.ID != "k1" || got.UserID != "u1" || got.ClientID != "" || !got.ExpiresAt.Equal(k.ExpiresAt) ||
		got.Status(now()) != store.PATActive || got.Status(now().Add(48*time.Hour)) != store.PATExpired {
		t.Fatalf("GetAPIKeyByDigest = %+v, %v", got, err)
	}
	if got, err := s.GetAPIKey(ctx, "k2"); err != nil || got.ClientID != "c1" || !got.ExpiresAt.IsZero() {
		t.Fatalf("GetAPIKey = %+v, %v", got, err)
	}
	_, err = s.GetAPIKey(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	if ks, err := s.ListAPIKeys(ctx, tn.ID); err != nil || len(ks) != 2 || ks[0].ID != "k2" {
		t.Fatalf("ListAPIKeys = %+v, %v", ks, err)
	}
	at := now()
	if err := s.RecordAPIKeyLogin(ctx, "k1", at); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAPIKey(ctx, "k1"); !got.LastLoginAt.Equal(at) {
		t.Fatalf("last login %v, want %v", got.LastLoginAt, at)
	}

	// Sessions: a user key's family has no client; both read back whole.
	for _, f := range []*store.RefreshFamily{apiSession(k, "f1"), apiSession(k, "f2"), apiSession(ck, "f3")} {
		if err := s.CreateFamily(ctx, f, "rt-"+f.ID, ev("api_session.login", tn.ID)); err != nil {
			t.Fatal(err)
		}
	}
	f, gen, err := s.GetFamilyByToken(ctx, "rt-f1")
	if err != nil || gen != 1 || f.APIKeyID != "k1" || f.ClientID != "" || f.UserID != "u1" || len(f.AccessTokens) != 1 {
		t.Fatalf("GetFamilyByToken = %+v, %d, %v", f, gen, err)
	}
	if f, _, _ := s.GetFamilyByToken(ctx, "rt-f3"); f.ClientID != "c1" || f.APIKeyID != "k2" {
		t.Fatalf("client key session = %+v", f)
	}
	if n, err := s.RevokeFamilies(ctx, store.FamilyFilter{APIKeyID: "k1", ID: "f2"}, now(), ev("api_session.logout", tn.ID)); err != nil || n != 1 {
		t.Fatalf("RevokeFamilies = %d, %v", n, err)
	}

	// Revoking the key ends its sessions and denies their access tokens.
	rev, err := s.RevokeAPIKey(ctx, tn.ID, "k1", now(), ev("api_key.revoke", tn.ID))
	if err != nil || rev.RevokedAt.IsZero() || rev.Status(now()) != store.PATRevoked {
		t.Fatalf("RevokeAPIKey = %+v, %v", rev, err)
	}
	if f, _, _ := s.GetFamilyByToken(ctx, "rt-f1"); f.RevokedAt.IsZero() {
		t.Fatal("the revoked key's session is live")
	}
	if f, _, _ := s.GetFamilyByToken(ctx, "rt-f3"); !f.RevokedAt.IsZero() {
		t.Fatal("another key's session was revoked")
	}
	if denied, _ := s.IsDenied(ctx, "fam:f1"); !denied {
		t.Fatal("the revoked session is not denied")
	}
	if denied, _ := s.IsDenied(ctx, "jti:jti-f1"); !denied {
		t.Fatal("the revoked session's access token is not denied")
	}
	again, err := s.RevokeAPIKey(ctx, tn.ID, "k1", now().Add(time.Hour), ev("api_key.revoke", tn.ID))
	if err != nil || !again.RevokedAt.Equal(rev.RevokedAt) {
		t.Fatalf("second revoke = %+v, %v", again, err)
	}
	_, err = s.RevokeAPIKey(ctx, "t_other", "k2", now(), ev("api_key.revoke", tn.ID))
	wantErr(t, err, store.ErrNotFound)

	// Deleting the client ends its key's sessions with it; deleting the
	// tenant takes the keys.
	if err := s.DeleteClient(ctx, "c1", ev("client.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.GetFamilyByToken(ctx, "rt-f3")
	wantErr(t, err, store.ErrNotFound)
	if err := s.DeleteTenant(ctx, tn.ID, ev("tenant.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetAPIKey(ctx, "k2")
	wantErr(t, err, store.ErrNotFound)
}
