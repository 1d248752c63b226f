// Package storetest is the one conformance suite every store backend runs.
// A backend's test says only how to open a fresh, empty store; every
// behaviour lives here and no backend skips a case.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Run runs the whole suite. open must return a fresh, empty, migrated store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"TenantDeleteCascades", testTenantDeleteCascades},
		{"Clients", testClients},
		{"UpdateClientAborts", testUpdateClientAborts},
		{"UpdateClientConcurrent", testUpdateClientConcurrent},
		{"ClientUsageConcurrent", testClientUsageConcurrent},
		{"ClientUsageHourly", testClientUsageHourly},
		{"OneIntegration", testOneIntegration},
		{"OneIntegrationConcurrent", testOneIntegrationConcurrent},
		{"Keys", testKeys},
		{"RotateKeyConcurrent", testRotateKeyConcurrent},
		{"OpaqueTokens", testOpaqueTokens},
		{"DenyList", testDenyList},
		{"Audit", testAudit},
		{"AuditSameTransaction", testAuditSameTransaction},
		{"Admins", testAdmins},
		{"Users", testUsers},
		{"UserEmailCaseInsensitive", testUserEmailCaseInsensitive},
		{"UsersAPIEnabledBulk", testUsersAPIEnabledBulk},
		{"UsersTenantDeleteCascades", testUsersTenantDeleteCascades},
		{"Groups", testGroups},
		{"Roles", testRoles},
		{"LastSuper", testLastSuper},
		{"LastSuperConcurrent", testLastSuperConcurrent},
		{"AuthCodes", testAuthCodes},
		{"RefreshRotationConcurrent", testRefreshRotationConcurrent},
		{"RevokeFamilies", testRevokeFamilies},
		{"PurgeCodesAndFamilies", testPurgeCodesAndFamilies},
		{"TryLock", testTryLock},
		{"PATs", testPATs},
		{"PATLimitConcurrent", testPATLimit},
		{"APIKeys", testAPIKeys},
		{"WebhooksDedup", testWebhooksDedup},
		{"WebhooksClaimFinish", testWebhooksClaimFinish},
		{"WebhooksClaimConcurrent", testWebhooksClaimConcurrent},
		{"WebhooksPurge", testWebhooksPurge},
		{"PATExpiryNotices", testPATExpiryNotices},
		{"PATExpiryConcurrent", testPATExpiryConcurrent},
		{"Consents", testConsents},
		{"RevokeConsent", testRevokeConsent},
		{"ConsentCascades", testConsentCascades},
		{"ConsentConcurrent", testConsentConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// now is truncated to microseconds, the stores' time resolution.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func ev(action store.Action, tenant string) store.Event {
	return store.Event{Time: now(), TenantID: tenant, Actor: "admin:test", Action: action, Outcome: "success", IP: "127.0.0.1", UserAgent: "storetest"}
}

func mustTenant(t *testing.T, s store.Store, name string) *store.Tenant {
	t.Helper()
	tn := &store.Tenant{ID: "t_" + name, Name: name, Settings: store.TenantSettings{AccessTokenTTL: time.Hour,
		RateLimits: store.RateLimits{Write: store.Quota{Count: 50, Per: time.Second}}}, CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateTenant(ctx, tn, ev("tenant.create", tn.ID)); err != nil {
		t.Fatalf("CreateTenant(%s): %v", name, err)
	}
	return tn
}

func mustClient(t *testing.T, s store.Store, tenantID, id string) *store.Client {
	t.Helper()
	exp := now().Add(time.Hour)
	c := &store.Client{
		ID: id, TenantID: tenantID, Name: "client " + id,
		Grants: []string{"client_credentials"}, Scopes: []string{"read", "write"}, Audiences: []string{"api"},
		AccessTokenTTL: 10 * time.Minute, TokenFormat: store.FormatJWT, IssueQuota: store.Quota{Count: 100, Per: time.Hour},
		RateLimits: store.RateLimits{Read: store.Quota{Count: 1000, Per: time.Minute}, Write: store.Quota{Count: 10, Per: 24 * time.Hour}},
		Secrets:    []store.ClientSecret{{ID: "s1", Digest: "ab", Hint: "gate_sk_abcd", CreatedAt: now(), ExpiresAt: &exp}},
		CreatedAt:  now(), UpdatedAt: now(), OwnerUserID: "usr_" + id,
	}
	if err := s.CreateClient(ctx, c, ev("client.create", tenantID)); err != nil {
		t.Fatalf("CreateClient(%s): %v", id, err)
	}
	return c
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func testTenants(t *testing.T, s store.Store) {
	a := mustTenant(t, s, "Acme")
	mustTenant(t, s, "acme") // names are case-sensitive: a different tenant
	dup := &store.Tenant{ID: "t_other", Name: "Acme", CreatedAt: now(), UpdatedAt: now()}
	wantErr(t, s.CreateTenant(ctx, dup, ev("tenant.create", "")), store.ErrConflict)

	got, err := s.GetTenant(ctx, "Acme")
	if err != nil || got.ID != a.ID || !reflect.DeepEqual(got.Settings, a.Settings) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("GetTenant = %+v, %v", got, err)
	}
	_, err = s.GetTenant(ctx, "ACME")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetTenantByID(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	limits := store.RateLimits{Read: store.Quota{Count: 600, Per: time.Minute}} // Write inherits
	up, err := s.UpdateTenant(ctx, a.ID, func(t *store.Tenant) error {
		t.Settings.AccessTokenTTL, t.Settings.RateLimits = 2*time.Hour, limits
		t.Settings.UserAuthMode = store.AuthModeOAuth
		t.Settings.IdP = store.IdPSettings{Issuer: "https://idp.example", Audiences: []string{"a", "b"}, ClaimNamespace: "https://example.com"}
		return nil
	}, ev("tenant.update", a.ID))
	if err != nil || up.Settings.AccessTokenTTL != 2*time.Hour || up.Settings.RateLimits != limits {
		t.Fatalf("UpdateTenant = %+v, %v", up, err)
	}
	if got, err := s.GetTenantByID(ctx, a.ID); err != nil || !reflect.DeepEqual(got.Settings, up.Settings) {
		t.Fatalf("tenant settings not stored: %+v, %v", got, err)
	}
	_, err = s.UpdateTenant(ctx, a.ID, func(t *store.Tenant) error { t.Name = "acme"; return nil }, ev("tenant.update", a.ID))
	wantErr(t, err, store.ErrConflict)
	_, err = s.UpdateTenant(ctx, "missing", func(*store.Tenant) error { return nil }, ev("tenant.update", ""))
	wantErr(t, err, store.ErrNotFound)

	list, err := s.ListTenants(ctx, store.Page{Limit: 1})
	if err != nil || len(list) != 1 || list[0].Name != "Acme" {
		t.Fatalf("ListTenants page 1 = %+v, %v", list, err)
	}
	list, err = s.ListTenants(ctx, store.Page{After: "Acme", Limit: 10})
	if err != nil || len(list) != 1 || list[0].Name != "acme" {
		t.Fatalf("ListTenants page 2 = %+v, %v", list, err)
	}
	wantErr(t, s.DeleteTenant(ctx, "missing", ev("tenant.delete", "")), store.ErrNotFound)
}

func testTenantDeleteCascades(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "gone")
	mustClient(t, s, tn.ID, "c1")
	if err := s.CreateOpaqueToken(ctx, &store.OpaqueToken{Digest: "d1", ClientID: "c1", TenantID: tn.ID, IssuedAt: now(), ExpiresAt: now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, tn.ID, ev("tenant.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetClient(ctx, "c1")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetOpaqueToken(ctx, "d1")
	wantErr(t, err, store.ErrNotFound)
	// A client cannot be created in a tenant that does not exist.
	c := &store.Client{ID: "c2", TenantID: tn.ID, TokenFormat: store.FormatJWT, CreatedAt: now(), UpdatedAt: now()}
	wantErr(t, s.CreateClient(ctx, c, ev("client.create", tn.ID)), store.ErrNotFound)
}

func testClients(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	c := mustClient(t, s, tn.ID, "c1")
	mustClient(t, s, tn.ID, "c2")
	wantErr(t, s.CreateClient(ctx, c, ev("client.create", tn.ID)), store.ErrConflict)

	got, err := s.GetClient(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.TenantID != tn.ID || got.AccessTokenTTL != 10*time.Minute || got.IssueQuota != c.IssueQuota || got.RateLimits != c.RateLimits ||
		len(got.Secrets) != 1 || got.Secrets[0].Digest != "ab" || !got.Secrets[0].ExpiresAt.Equal(*c.Secrets[0].ExpiresAt) ||
		fmt.Sprint(got.Scopes) != "[read write]" || fmt.Sprint(got.Audiences) != "[api]" || got.RedirectURIs == nil || got.GrantedTenants == nil ||
		got.OwnerUserID != "usr_c1" {
		t.Fatalf("GetClient = %+v", got)
	}

	up, err := s.UpdateClient(ctx, "c1", func(c *store.Client) error {
		c.TenantID = "someone-else" // ignored: a client never changes tenant
		c.Secrets = append(c.Secrets, store.ClientSecret{ID: "s2", Digest: "cd", CreatedAt: now()})
		c.GrantedTenants = []string{"t_other"}
		c.RateLimits.Write = store.Quota{} // back to inheriting the tenant's
		c.OwnerUserID = ""
		return nil
	}, ev("client.rotate_secret", tn.ID))
	if err != nil || len(up.Secrets) != 2 || up.TenantID != tn.ID {
		t.Fatalf("UpdateClient = %+v, %v", up, err)
	}
	if got, _ := s.GetClient(ctx, "c1"); fmt.Sprint(got.GrantedTenants) != "[t_other]" {
		t.Fatalf("granted tenants not stored: %v", got.GrantedTenants)
	}
	if got, _ := s.GetClient(ctx, "c1"); got.RateLimits != (store.RateLimits{Read: c.RateLimits.Read}) || got.OwnerUserID != "" {
		t.Fatalf("rate limits or owner not stored: %+v, %q", got.RateLimits, got.OwnerUserID)
	}
	list, err := s.ListClients(ctx, tn.ID, store.Page{})
	if err != nil || len(list) != 2 || list[0].ID != "c1" || len(list[0].Secrets) != 2 {
		t.Fatalf("ListClients = %+v, %v", list, err)
	}
	list, err = s.ListClients(ctx, tn.ID, store.Page{After: "c1"})
	if err != nil || len(list) != 1 || list[0].ID != "c2" {
		t.Fatalf("ListClients after c1 = %+v, %v", list, err)
	}
	if err := s.DeleteClient(ctx, "c2", ev("client.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteClient(ctx, "c2", ev("client.delete", tn.ID)), store.ErrNotFound)
	_, err = s.UpdateClient(ctx, "c2", func(*store.Client) error { return nil }, ev("client.update", tn.ID))
	wantErr(t, err, store.ErrNotFound)
}

func testUpdateClientAborts(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	boom := errors.New("refused")
	_, err := s.UpdateClient(ctx, "c1", func(c *store.Client) error { c.Name = "changed"; return boom }, ev("client.update", tn.ID))
	wantErr(t, err, boom)
	got, _ := s.GetClient(ctx, "c1")
	if got.Name != "client c1" {
		t.Fatalf("aborted update was written: %q", got.Name)
	}
	evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "client.update"})
	if len(evs) != 0 {
		t.Fatalf("aborted update left %d audit events", len(evs))
	}
}

// Concurrent read-modify-writes must serialize: none may be lost.
func testUpdateClientConcurrent(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateClient(ctx, "c1", func(c *store.Client) error {
				c.RedirectURIs = append(c.RedirectURIs, fmt.Sprintf("https://app.example/%d", i))
				return nil
			}, ev("client.update", tn.ID))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.GetClient(ctx, "c1")
	if len(got.RedirectURIs) != n {
		t.Fatalf("after %d concurrent updates the client has %d redirect URIs: lost updates", n, len(got.RedirectURIs))
	}
}

func testClientUsageConcurrent(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	latest := now().Add(time.Minute)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := now()
			if i == 3 {
				at = latest
			}
			if err := s.AddClientUsage(ctx, []store.ClientUsage{{ClientID: "c1", Issued: 5, Requests: 7, LastUsed: at}, {ClientID: "deleted", Issued: 1, LastUsed: at}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ := s.GetClient(ctx, "c1")
	if got.TokensIssued != 50 || got.GatewayRequests != 70 || !got.LastUsedAt.Equal(latest) {
		t.Fatalf("usage = %d issued, %d requests, last used %v; want 50, 70, %v", got.TokensIssued, got.GatewayRequests, got.LastUsedAt, latest)
	}
}

func testClientUsageHourly(t *testing.T, s store.Store) {
	acme, other := mustTenant(t, s, "acme"), mustTenant(t, s, "other")
	mustClient(t, s, acme.ID, "c1")
	mustClient(t, s, acme.ID, "c2")
	mustClient(t, s, other.ID, "o1")
	h0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	add := func(u ...store.ClientUsage) {
		t.Helper()
		if err := s.AddClientUsage(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// Two flushes (two replicas) of the same hour add up; the hour of a
	// row is the start of the UTC hour it was given.
	add(store.ClientUsage{ClientID: "c2", Hour: h0.Add(2 * time.Hour), Requests: 4, Rejected: 1},
		store.ClientUsage{ClientID: "c1", Hour: h0, Requests: 3, Issued: 1},
		store.ClientUsage{ClientID: "c1", Hour: h0.Add(time.Hour), Rejected: 2},
		store.ClientUsage{ClientID: "o1", Hour: h0, Requests: 9},
		store.ClientUsage{ClientID: "gone", Hour: h0, Requests: 9})
	add(store.ClientUsage{ClientID: "c1", Hour: h0.Add(17 * time.Minute), Requests: 2, Rejected: 5})

	got, err := s.ClientUsageSince(ctx, acme.ID, h0.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ClientUsage{
		{ClientID: "c1", Hour: h0, Issued: 1, Requests: 5, Rejected: 5},
		{ClientID: "c1", Hour: h0.Add(time.Hour), Rejected: 2},
		{ClientID: "c2", Hour: h0.Add(2 * time.Hour), Requests: 4, Rejected: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("ClientUsageSince = %+v, want %+v (another tenant's or a deleted client's rows must not show)", got, want)
	}
	for i := range want {
		if got[i].ClientID != want[i].ClientID || !got[i].Hour.Equal(want[i].Hour) || got[i].Issued != want[i].Issued ||
			got[i].Requests != want[i].Requests || got[i].Rejected != want[i].Rejected {
			t.Fatalf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if later, _ := s.ClientUsageSince(ctx, acme.ID, h0.Add(2*time.Hour)); len(later) != 1 || later[0].ClientID != "c2" {
		t.Fatalf("since the third hour: %+v, want c2's row only", later)
	}

	// Purging drops rows before the cut in batches; deleting a client drops its rows.
	if n, err := s.PurgeClientUsage(ctx, h0.Add(time.Hour), 1); err != nil || n != 1 {
		t.Fatalf("PurgeClientUsage = %d, %v; want one row (the limit)", n, err)
	}
	if n, err := s.PurgeClientUsage(ctx, h0.Add(time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("PurgeClientUsage = %d, %v; want the other first-hour row", n, err)
	}
	if err := s.DeleteClient(ctx, "c2", store.Event{}); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.ClientUsageSince(ctx, acme.ID, h0); len(left) != 1 || left[0].ClientID != "c1" || left[0].Rejected != 2 {
		t.Fatalf("after purge and delete: %+v, want c1's second hour only", left)
	}
}

func testKeys(t *testing.T, s store.Store) {
	t0 := now()
	key := func(id string, at time.Time) *store.SigningKey {
		return &store.SigningKey{ID: id, Alg: "ES256", Sealed: []byte{0, 1, 2, id[1]}, Public: []byte(`{"kid":"` + id + `"}`), CreatedAt: at}
	}
	if err := s.CreateKey(ctx, key("k1", t0), ev("key.create", "")); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateKey(ctx, key("k2", t0.Add(time.Second)), ev("key.rotate", "")); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != "k1" || keys[0].RetiredAt == nil || !keys[0].RetiredAt.Equal(t0.Add(time.Second)) ||
		keys[1].RetiredAt != nil || string(keys[1].Sealed) != string([]byte{0, 1, 2, '2'}) || string(keys[1].Public) != `{"kid":"k2"}` {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}
	n, err := s.DeleteKeysRetiredBefore(ctx, t0.Add(2*time.Second))
	if err != nil || n != 1 {
		t.Fatalf("DeleteKeysRetiredBefore = %d, %v", n, err)
	}
	keys, _ = s.ListKeys(ctx)
	if len(keys) != 1 || keys[0].ID != "k2" || !keys[0].ActivatesAt.Equal(keys[0].CreatedAt) {
		t.Fatalf("after purge: %+v (a key without an activation time signs from its creation)", keys)
	}

	// Published ahead: k3 is listed at once, signs from t0+1h, and k2 is
	// retired as of then, not now.
	k3 := key("k3", t0.Add(3*time.Second))
	k3.ActivatesAt = t0.Add(time.Hour)
	if err := s.RotateKey(ctx, k3, ev("key.rotate", "")); err != nil {
		t.Fatal(err)
	}
	keys, _ = s.ListKeys(ctx)
	if len(keys) != 2 || keys[1].ID != "k3" || !keys[1].ActivatesAt.Equal(t0.Add(time.Hour)) ||
		keys[0].RetiredAt == nil || !keys[0].RetiredAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after a publish-ahead rotation: %+v", keys)
	}
	if n, _ := s.DeleteKeysRetiredBefore(ctx, t0.Add(time.Minute)); n != 0 {
		t.Fatalf("deleted %d keys that still sign", n)
	}
}

// Rotations racing (on several replicas) never retire every key: the
// newest one always remains to sign.
func testRotateKeyConcurrent(t *testing.T, s store.Store) {
	t0 := now()
	if err := s.CreateKey(ctx, &store.SigningKey{ID: "k0", Alg: "ES256", Sealed: []byte{1}, Public: []byte(`{}`), CreatedAt: t0}, ev("key.create", "")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &store.SigningKey{ID: fmt.Sprintf("k%d", i+1), Alg: "ES256", Sealed: []byte{1}, Public: []byte(`{}`),
				CreatedAt: t0.Add(time.Duration(8-i) * time.Millisecond)} // out of order, as skewed clocks would be
			if err := s.RotateKey(ctx, k, ev("key.rotate", "")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	keys, _ := s.ListKeys(ctx)
	var active []string
	for _, k := range keys {
		if k.RetiredAt == nil {
			active = append(active, k.ID)
		}
	}
	if len(active) == 0 || active[len(active)-1] != "k1" {
		t.Fatalf("active keys after concurrent rotations: %v (want the newest, k1, among them)", active)
	}
}

func testOpaqueTokens(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	tok := &store.OpaqueToken{Digest: "d1", ClientID: "c1", TenantID: tn.ID, Subject: "c1", Scope: "read",
		Audience: []string{"api"}, Orgs: []string{"acme"}, IssuedAt: now(), ExpiresAt: now().Add(time.Hour), JTI: "op1", SessionID: "rf_1"}
	if err := s.CreateOpaqueToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetOpaqueToken(ctx, "d1")
	if err != nil || got.Scope != "read" || got.Revoked || fmt.Sprint(got.Orgs) != "[acme]" || !got.ExpiresAt.Equal(tok.ExpiresAt) ||
		got.JTI != "op1" || got.SessionID != "rf_1" {
		t.Fatalf("GetOpaqueToken = %+v, %v", got, err)
	}
	if err := s.RevokeOpaqueToken(ctx, "d1", ev("token.revoke", tn.ID)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetOpaqueToken(ctx, "d1")
	if !got.Revoked {
		t.Fatal("token not revoked")
	}
	// The one deny list reaches opaque tokens too.
	if denied, _ := s.IsDenied(ctx, "jti:op1"); !denied {
		t.Fatal("a revoked opaque token's jti is not on the deny list")
	}
	wantErr(t, s.RevokeOpaqueToken(ctx, "nope", ev("token.revoke", tn.ID)), store.ErrNotFound)

	old := &store.OpaqueToken{Digest: "d2", ClientID: "c1", TenantID: tn.ID, IssuedAt: now().Add(-2 * time.Hour), ExpiresAt: now().Add(-time.Hour)}
	if err := s.CreateOpaqueToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeExpiredTokens(ctx, now(), 100)
	if err != nil || n != 1 {
		t.Fatalf("PurgeExpiredTokens = %d, %v", n, err)
	}
	_, err = s.GetOpaqueToken(ctx, "d2")
	wantErr(t, err, store.ErrNotFound)
}

func testDenyList(t *testing.T, s store.Store) {
	if denied, err := s.IsDenied(ctx, "jti:j1"); err != nil || denied {
		t.Fatalf("IsDenied before = %v, %v", denied, err)
	}
	for range 2 { // idempotent
		if err := s.Deny(ctx, map[string]time.Time{"jti:j1": now().Add(time.Hour), "fam:f1": now().Add(time.Hour)}, ev("token.revoke", "")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Deny(ctx, map[string]time.Time{"jti:j0": now().Add(-time.Second)}, ev("token.revoke", "")); err != nil {
		t.Fatal(err)
	}
	if denied, err := s.IsDenied(ctx, "jti:j1"); err != nil || !denied {
		t.Fatalf("IsDenied after = %v, %v", denied, err)
	}
	if denied, _ := s.IsDenied(ctx, "fam:j1"); denied {
		t.Fatal("an entry of one kind answers for another")
	}
	if denied, _ := s.IsDenied(ctx, "fam:nope", "jti:j1"); !denied {
		t.Fatal("IsDenied of several ids misses the one denied")
	}
	if denied, err := s.IsDenied(ctx); denied || err != nil {
		t.Fatalf("IsDenied of nothing = %v, %v", denied, err)
	}
	if all, err := s.Denied(ctx, now(), time.Time{}); err != nil || len(all) != 2 || all["jti:j1"].IsZero() || all["fam:f1"].IsZero() {
		t.Fatalf("Denied = %v, %v (want only the unexpired j1 and f1)", all, err)
	}
	// Incremental loads see only what was denied since.
	later := ev("token.revoke", "")
	later.Time = now().Add(time.Minute)
	if err := s.Deny(ctx, map[string]time.Time{"jti:j2": now().Add(time.Hour)}, later); err != nil {
		t.Fatal(err)
	}
	if recent, err := s.Denied(ctx, now(), later.Time); err != nil || len(recent) != 1 || recent["jti:j2"].IsZero() {
		t.Fatalf("Denied since = %v, %v (want only j2)", recent, err)
	}
	n, err := s.PurgeExpiredTokens(ctx, now(), 100)
	if err != nil || n != 1 {
		t.Fatalf("PurgeExpiredTokens = %d, %v", n, err)
	}
	if denied, _ := s.IsDenied(ctx, "jti:j1"); !denied {
		t.Fatal("unexpired entry was purged")
	}
}

func testAudit(t *testing.T, s store.Store) {
	base := now()
	var evs []store.Event
	for i, action := range []store.Action{"client.create", "client.update", "tenant.update", "client.auth_failed", "client.delete"} {
		e := ev(action, "t1")
		e.Time = base.Add(time.Duration(i) * time.Minute)
		e.Detail = map[string]any{"i": float64(i)}
		if action == "client.auth_failed" {
			e.Actor, e.Outcome = "client:c9", "failure"
		}
		evs = append(evs, e)
	}
	evs = append(evs, ev("client.create", "t2"))
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListEvents(ctx, store.EventQuery{TenantID: "t1"})
	if err != nil || len(all) != 5 || all[0].Action != "client.delete" || all[0].Detail["i"] != float64(4) || all[0].UserAgent != "storetest" {
		t.Fatalf("ListEvents = %+v, %v", all, err)
	}
	page, _ := s.ListEvents(ctx, store.EventQuery{TenantID: "t1", Limit: 2, Before: all[1].ID})
	if len(page) != 2 || page[0].ID != all[2].ID {
		t.Fatalf("cursor page = %+v", page)
	}
	clients, _ := s.ListEvents(ctx, store.EventQuery{TenantID: "t1", Action: "client."})
	if len(clients) != 4 {
		t.Fatalf("prefix filter: %d events", len(clients))
	}
	exact, _ := s.ListEvents(ctx, store.EventQuery{TenantID: "t1", Action: "client.update"})
	if len(exact) != 1 {
		t.Fatalf("exact filter: %d events", len(exact))
	}
	window, _ := s.ListEvents(ctx, store.EventQuery{TenantID: "t1", Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)})
	if len(window) != 2 || window[0].Action != "tenant.update" {
		t.Fatalf("time window = %+v", window)
	}
	failed, _ := s.ListEvents(ctx, store.EventQuery{TenantID: "t1", Outcome: "failure"})
	byActor, _ := s.ListEvents(ctx, store.EventQuery{TenantID: "t1", Actor: "admin:test", Action: "client."})
	if len(failed) != 1 || failed[0].Actor != "client:c9" || len(byActor) != 3 {
		t.Fatalf("outcome filter = %d events, actor and action = %d", len(failed), len(byActor))
	}
}

// A mutation and its audit event commit together: when the event cannot be
// written the change is rolled back, and a failed change leaves no event.
func testAuditSameTransaction(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustClient(t, s, tn.ID, "c1")
	unwritable := ev("client.update", tn.ID)
	unwritable.Detail = map[string]any{"x": make(chan int)} // cannot be encoded
	_, err := s.UpdateClient(ctx, "c1", func(c *store.Client) error { c.Name = "changed"; return nil }, unwritable)
	if err == nil {
		t.Fatal("an update whose event cannot be written succeeded")
	}
	if got, _ := s.GetClient(ctx, "c1"); got.Name != "client c1" {
		t.Fatalf("the update was kept without its event: %q", got.Name)
	}
	bad := ev("tenant.create", "t_x")
	bad.Detail = unwritable.Detail
	if err := s.CreateTenant(ctx, &store.Tenant{ID: "t_x", Name: "x", CreatedAt: now(), UpdatedAt: now()}, bad); err == nil {
		t.Fatal("a create whose event cannot be written succeeded")
	}
	if _, err := s.GetTenant(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the tenant was created without its event: %v", err)
	}

	dup := &store.Tenant{ID: "t_dup", Name: "acme", CreatedAt: now(), UpdatedAt: now()}
	wantErr(t, s.CreateTenant(ctx, dup, ev("tenant.create", "t_dup")), store.ErrConflict)
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: "t_dup"}); len(evs) != 0 {
		t.Fatalf("failed create left %d events", len(evs))
	}
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "tenant.create"}); len(evs) != 1 {
		t.Fatalf("successful create left %d events", len(evs))
	}
}

func testAdmins(t *testing.T, s store.Store) {
	if n, err := s.CountAdminCredentials(ctx); err != nil || n != 0 {
		t.Fatalf("CountAdminCredentials = %d, %v", n, err)
	}
	c := &store.AdminCredential{ID: "a1", Name: "bootstrap", Digest: "ff", CreatedAt: now()}
	if err := s.CreateAdminCredential(ctx, c, ev("admin.create", "")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CreateAdminCredential(ctx, &store.AdminCredential{ID: "a2", Digest: "ff", CreatedAt: now()}, ev("admin.create", "")), store.ErrConflict)
	got, err := s.GetAdminCredential(ctx, "ff")
	if err != nil || got.ID != "a1" {
		t.Fatalf("GetAdminCredential = %+v, %v", got, err)
	}
	_, err = s.GetAdminCredential(ctx, "00")
	wantErr(t, err, store.ErrNotFound)
	if n, _ := s.CountAdminCredentials(ctx); n != 1 {
		t.Fatalf("CountAdminCredentials = %d", n)
	}
}
