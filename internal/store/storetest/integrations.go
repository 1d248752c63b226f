package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
)

// apiConfig is a client with the authorization_code grant: an "API
// configuration" for the tenant policy OneActiveIntegration.
func apiConfig(tenantID, id string) *store.Client {
	return &store.Client{ID: id, TenantID: tenantID, Name: "integration " + id,
		Grants: []string{"client_credentials", store.GrantAuthorizationCode}, RedirectURIs: []string{"https://app.example/cb"},
		TokenFormat: store.FormatJWT, CreatedAt: now(), UpdatedAt: now()}
}

func oneIntegrationTenant(t *testing.T, s store.Store, name string) *store.Tenant {
	t.Helper()
	tn := mustTenant(t, s, name)
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *store.Tenant) error {
		t.Settings.OneActiveIntegration = true
		return nil
	}, ev("tenant.update", tn.ID)); err != nil {
		t.Fatal(err)
	}
	return tn
}

func wantOneIntegration(t *testing.T, err error, existing string) {
	t.Helper()
	var oi *store.OneIntegrationError
	if !errors.Is(err, store.ErrLimit) || !errors.As(err, &oi) || oi.ClientID != existing {
		t.Fatalf("err = %v, want a OneIntegrationError naming %s", err, existing)
	}
}

func testOneIntegration(t *testing.T, s store.Store) {
	tn := oneIntegrationTenant(t, s, "solo")
	free := mustTenant(t, s, "free") // the policy is off by default
	for _, id := range []string{"f1", "f2"} {
		if err := s.CreateClient(ctx, apiConfig(free.ID, id), ev("client.create", free.ID)); err != nil {
			t.Fatalf("policy off: %v", err)
		}
	}

	mustClient(t, s, tn.ID, "cc1") // client_credentials only: not counted
	if err := s.CreateClient(ctx, apiConfig(tn.ID, "a1"), ev("client.create", tn.ID)); err != nil {
		t.Fatal(err)
	}
	wantOneIntegration(t, s.CreateClient(ctx, apiConfig(tn.ID, "a2"), ev("client.create", tn.ID)), "a1")
	mustClient(t, s, tn.ID, "cc2")

	// An update that adds the grant is a second integration too; one that
	// keeps it on the existing integration is not.
	addGrant := func(c *store.Client) error { c.Grants = append(c.Grants, store.GrantAuthorizationCode); return nil }
	_, err := s.UpdateClient(ctx, "cc2", addGrant, ev("client.update", tn.ID))
	wantOneIntegration(t, err, "a1")
	if _, err := s.UpdateClient(ctx, "a1", func(c *store.Client) error { c.Name = "renamed"; return nil }, ev("client.update", tn.ID)); err != nil {
		t.Fatal(err)
	}
	evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "client.create"})
	if len(evs) != 3 { // cc1, a1, cc2
		t.Fatalf("refused creations left audit events: %d client.create events", len(evs))
	}

	if err := s.DeleteClient(ctx, "a1", ev("client.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateClient(ctx, "cc2", addGrant, ev("client.update", tn.ID)); err != nil {
		t.Fatalf("after the first was deleted: %v", err)
	}
	wantOneIntegration(t, s.CreateClient(ctx, apiConfig(tn.ID, "a3"), ev("client.create", tn.ID)), "cc2")
}

// Two integrations created at once in a one-integration tenant: exactly
// one wins, on every backend.
func testOneIntegrationConcurrent(t *testing.T, s store.Store) {
	tn := oneIntegrationTenant(t, s, "solo")
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- s.CreateClient(ctx, apiConfig(tn.ID, fmt.Sprintf("a%d", i)), ev("client.create", tn.ID))
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrLimit):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	list, err := s.ListClients(ctx, tn.ID, store.Page{})
	if err != nil || won != 1 || len(list) != 1 {
		t.Fatalf("%d of %d concurrent creations succeeded, %d clients stored (%v); want exactly one", won, n, len(list), err)
	}
}
