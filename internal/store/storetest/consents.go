package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func grant(tenantID, userID, clientID string, at time.Time, scopes ...string) *store.ConsentGrant {
	return &store.ConsentGrant{TenantID: tenantID, UserID: userID, ClientID: clientID, Scopes: scopes, CreatedAt: at, UpdatedAt: at}
}

func consentClients(gs []store.ConsentGrant) string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.ClientID)
	}
	return fmt.Sprint(out)
}

// A grant is created by the first consent and only ever widened; it
// belongs to one tenant's user and client.
func testConsents(t *testing.T, s store.Store) {
	tn, other := mustTenant(t, s, "acme"), mustTenant(t, s, "other")
	mustUser(t, s, tn.ID, "u1", "ada@example.com")
	mustUser(t, s, tn.ID, "u2", "bob@example.com")
	mustUser(t, s, other.ID, "ux", "cy@example.com")
	mustClient(t, s, tn.ID, "c1")
	mustClient(t, s, tn.ID, "c2")
	mustClient(t, s, other.ID, "cx")
	_, err := s.GetConsent(ctx, tn.ID, "u1", "c1")
	wantErr(t, err, store.ErrNotFound)

	t0 := now()
	steps := []struct {
		name    string
		at      time.Time
		scopes  []string
		want    string
		updated time.Time
	}{
		{"first consent, sorted without repeats", t0, []string{"submissions:read", "openid", "openid"}, "[openid submissions:read]", t0},
		{"a wider consent widens", t0.Add(time.Minute), []string{"submissions:write"}, "[openid submissions:read submissions:write]", t0.Add(time.Minute)},
		{"a narrower consent never narrows", t0.Add(2 * time.Minute), []string{"openid"}, "[openid submissions:read submissions:write]", t0.Add(2 * time.Minute)},
		{"an earlier clock does not move updated_at back", t0.Add(time.Second), nil, "[openid submissions:read submissions:write]", t0.Add(2 * time.Minute)},
	}
	for _, st := range steps {
		g := grant(tn.ID, "u1", "c1", st.at, st.scopes...)
		if err := s.GrantConsent(ctx, g, ev("oauth.consent", tn.ID)); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.GetConsent(ctx, tn.ID, "u1", "c1")
		if err != nil || fmt.Sprint(got.Scopes) != st.want || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(st.updated) {
			t.Fatalf("%s: GetConsent = %+v, %v; want scopes %s, created %v, updated %v", st.name, got, err, st.want, t0, st.updated)
		}
		if fmt.Sprint(g.Scopes) != st.want || !g.CreatedAt.Equal(t0) || !g.UpdatedAt.Equal(st.updated) {
			t.Fatalf("%s: GrantConsent filled in %+v, want the stored grant", st.name, g)
		}
	}

	refused := []struct {
		name string
		g    *store.ConsentGrant
	}{
		{"a user of another tenant", grant(tn.ID, "ux", "c1", t0, "openid")},
		{"a client of another tenant", grant(tn.ID, "u1", "cx", t0, "openid")},
		{"an unknown user", grant(tn.ID, "nobody", "c1", t0, "openid")},
		{"an unknown client", grant(tn.ID, "u1", "gone", t0, "openid")},
		{"an unknown tenant", grant("t_nope", "u1", "c1", t0, "openid")},
	}
	for _, c := range refused {
		if err := s.GrantConsent(ctx, c.g, ev("oauth.consent", tn.ID)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.name, err)
		}
	}
	// The grant and its event commit together.
	bad := ev("oauth.consent", tn.ID)
	bad.Detail = map[string]any{"x": make(chan int)} // cannot be encoded
	if err := s.GrantConsent(ctx, grant(tn.ID, "u2", "c1", t0, "openid"), bad); err == nil {
		t.Fatal("a consent whose event cannot be written succeeded")
	}
	if _, err := s.GetConsent(ctx, tn.ID, "u2", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the consent was kept without its event: %v", err)
	}
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "oauth.consent"}); len(evs) != len(steps) {
		t.Fatalf("%d consent events, want %d (refused consents write none)", len(evs), len(steps))
	}

	// Listing: the user's grants in the tenant, most recently consented first.
	if err := s.GrantConsent(ctx, grant(tn.ID, "u1", "c2", t0.Add(time.Hour)), ev("oauth.consent", tn.ID)); err != nil {
		t.Fatal(err)
	}
	listed := []struct {
		name, tenant, user, want string
	}{
		{"newest first", tn.ID, "u1", "[c2 c1]"},
		{"another user", tn.ID, "u2", "[]"},
		{"another tenant", other.ID, "u1", "[]"},
	}
	for _, c := range listed {
		gs, err := s.ListConsents(ctx, c.tenant, c.user)
		if err != nil || consentClients(gs) != c.want {
			t.Errorf("%s: ListConsents = %s, %v; want %s", c.name, consentClients(gs), err, c.want)
		}
	}
	if gs, _ := s.ListConsents(ctx, tn.ID, "u1"); gs[0].Scopes == nil || len(gs[0].Scopes) != 0 {
		t.Errorf("a grant of no scopes reads back %#v, want []", gs[0].Scopes)
	}
}

// Withdrawing consent deletes the grant and ends the client's sessions
// for that user, and only those, in one transaction.
func testRevokeConsent(t *testing.T, s store.Store) {
	tn, other := mustTenant(t, s, "acme"), mustTenant(t, s, "other")
	for _, u := range []string{"u1", "u2"} {
		mustUser(t, s, tn.ID, u, u+"@example.com")
	}
	mustClient(t, s, tn.ID, "c1")
	mustClient(t, s, tn.ID, "c2")
	for _, g := range []*store.ConsentGrant{grant(tn.ID, "u1", "c1", now(), "read"), grant(tn.ID, "u2", "c1", now(), "read"), grant(tn.ID, "u1", "c2", now(), "read")} {
		if err := s.GrantConsent(ctx, g, ev("oauth.consent", tn.ID)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ client, fam, user string }{{"c1", "f1", "u1"}, {"c1", "f2", "u1"}, {"c1", "f3", "u2"}, {"c2", "f4", "u1"}} {
		mustCode(t, s, tn.ID, c.client, "code-"+c.fam)
		f := newFamily(tn.ID, c.client, c.fam)
		f.UserID = c.user
		if err := s.RedeemAuthCode(ctx, "code-"+c.fam, now(), f, "rt-"+c.fam, ev("oauth.code", tn.ID), ev("x", tn.ID)); err != nil {
			t.Fatal(err)
		}
	}

	_, err := s.RevokeConsent(ctx, other.ID, "u1", "c1", now(), ev("oauth.consent_revoke", other.ID))
	wantErr(t, err, store.ErrNotFound)
	n, err := s.RevokeConsent(ctx, tn.ID, "u1", "c1", now(), ev("oauth.consent_revoke", tn.ID))
	if err != nil || n != 2 {
		t.Fatalf("RevokeConsent = %d, %v; want u1's two sessions of c1", n, err)
	}
	for fam, want := range map[string]bool{"f1": true, "f2": true, "f3": false, "f4": false} {
		if denied, _ := s.IsDenied(ctx, "fam:"+fam); denied != want {
			t.Errorf("family %s denied = %v, want %v", fam, denied, want)
		}
		if denied, _ := s.IsDenied(ctx, "jti:at-"+fam); denied != want {
			t.Errorf("access token of %s denied = %v, want %v", fam, denied, want)
		}
	}
	if _, err := s.GetConsent(ctx, tn.ID, "u1", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the grant outlived its revocation: %v", err)
	}
	if gs, _ := s.ListConsents(ctx, tn.ID, "u1"); consentClients(gs) != "[c2]" {
		t.Fatalf("u1's grants after revoking c1: %s", consentClients(gs))
	}
	// Again: nothing there, nothing revoked, no event.
	_, err = s.RevokeConsent(ctx, tn.ID, "u1", "c1", now(), ev("oauth.consent_revoke", tn.ID))
	wantErr(t, err, store.ErrNotFound)
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "oauth.consent_revoke"}); len(evs) != 1 {
		t.Fatalf("%d revoke events, want 1", len(evs))
	}
	if n, err := s.RevokeConsent(ctx, tn.ID, "u2", "c1", now(), ev("oauth.consent_revoke", tn.ID)); err != nil || n != 1 {
		t.Fatalf("RevokeConsent(u2) = %d, %v; want u2's one session of c1", n, err)
	}
	// A grant whose sessions already ended revokes none, and still goes.
	if _, err := s.RevokeFamilies(ctx, store.FamilyFilter{ID: "f4"}, now(), ev("x", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RevokeConsent(ctx, tn.ID, "u1", "c2", now(), ev("oauth.consent_revoke", tn.ID)); err != nil || n != 0 {
		t.Fatalf("RevokeConsent with no live session = %d, %v; want 0, nil", n, err)
	}
}

// A grant goes with its client, its user or its tenant.
func testConsentCascades(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustUser(t, s, tn.ID, "u1", "ada@example.com")
	mustUser(t, s, tn.ID, "u2", "bob@example.com")
	mustClient(t, s, tn.ID, "c1")
	mustClient(t, s, tn.ID, "c2")
	for _, g := range []*store.ConsentGrant{grant(tn.ID, "u1", "c1", now()), grant(tn.ID, "u1", "c2", now()), grant(tn.ID, "u2", "c1", now())} {
		if err := s.GrantConsent(ctx, g, ev("oauth.consent", tn.ID)); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name   string
		delete func() error
		u1, u2 string
	}{
		{"client deleted", func() error { return s.DeleteClient(ctx, "c2", ev("client.delete", tn.ID)) }, "[c1]", "[c1]"},
		{"user deleted", func() error { return s.DeleteUser(ctx, "u2", ev("user.delete", tn.ID)) }, "[c1]", "[]"},
		{"tenant deleted", func() error { return s.DeleteTenant(ctx, tn.ID, ev("tenant.delete", tn.ID)) }, "[]", "[]"},
	}
	for _, st := range steps {
		if err := st.delete(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for user, want := range map[string]string{"u1": st.u1, "u2": st.u2} {
			if gs, err := s.ListConsents(ctx, tn.ID, user); err != nil || consentClients(gs) != want {
				t.Errorf("%s: %s's grants = %s, %v; want %s", st.name, user, consentClients(gs), err, want)
			}
		}
	}
}

// Concurrent consents to one client, each for another scope (a user
// approving in two tabs, on two replicas): none is lost.
func testConsentConcurrent(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustUser(t, s, tn.ID, "u1", "ada@example.com")
	mustClient(t, s, tn.ID, "c1")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.GrantConsent(ctx, grant(tn.ID, "u1", "c1", now(), fmt.Sprintf("scope%d", i), "openid"), ev("oauth.consent", tn.ID))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("consent %d: %v", i, err)
		}
	}
	g, err := s.GetConsent(ctx, tn.ID, "u1", "c1")
	if err != nil || len(g.Scopes) != n+1 {
		t.Fatalf("after %d concurrent consents the grant is %+v, %v; want all %d scopes", n, g, err, n+1)
	}
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "oauth.consent"}); len(evs) != n {
		t.Fatalf("%d consent events, want %d", len(evs), n)
	}
}
