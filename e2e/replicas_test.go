package e2e

import (
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// Two replicas on one PostgreSQL database (and one master key): what one
// does, the other honours.
func TestTwoReplicas(t *testing.T) {
	if pgtest.ServerURL() == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES not set")
	}
	db := pgtest.URL(t)
	a := apptest.Start(t, db, nil)
	// Replicas share the issuer and the master key, as behind a load balancer.
	b := apptest.Start(t, db, func(c *config.Config) { c.MasterKey, c.Issuer = a.Config.MasterKey, a.URL })

	c := setup(t, a, "acme", admin.ClientInput{})
	onB := func(sec string) int {
		return postForm(t, b, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, sec).Status
	}
	if st := onB(c.ClientSecret); st != 200 {
		t.Fatalf("client created on A, token on B: %d", st)
	}

	// A rotated-and-retired secret stops working on B within the cache TTL.
	rot, err := a.Admin.RotateSecret(ctx, "acme", c.ClientID, admin.RotateInput{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return onB(rot.ClientSecret) == 200 })
	if _, err := a.Admin.RetireSecret(ctx, "acme", c.ClientID, rot.Client.Secrets[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return onB(c.ClientSecret) == 401 })
	c.ClientSecret = rot.ClientSecret

	// A token revoked through A is inactive on B at once.
	tok := token(t, b, c, nil)
	if r := introspect(t, a, c, tok); r.JSON["active"] != true {
		t.Fatalf("B's token on A: %s", r.Body)
	}
	postForm(t, a, "/oauth2/revoke", url.Values{"token": {tok}}, c.ClientID, c.ClientSecret)
	if r := introspect(t, b, c, tok); string(r.Body) != "{\"active\":false}\n" {
		t.Fatalf("revoked on A, introspected on B: %s", r.Body)
	}

	// After a key rotation on A, B verifies A's new tokens (unknown kid → reload).
	if _, err := a.Admin.RotateKey(ctx, admin.RotateKeyInput{Immediate: true}); err != nil {
		t.Fatal(err)
	}
	fresh := token(t, a, c, nil)
	waitFor(t, func() bool { return introspect(t, b, c, fresh).JSON["active"] == true })
}
