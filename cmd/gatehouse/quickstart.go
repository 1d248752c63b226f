package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

const (
	demoTenant = "demo"
	demoClient = "demo-m2m"
)

// printQuickstart makes sure the demo tenant and client exist and prints
// how to get a token. The demo client is recreated on every run so that its
// secret can be shown: secrets are stored only as hashes.
func printQuickstart(ctx context.Context, env *cmdEnv, a *app.App, demo bool) error {
	ev := func(tenantID string, action store.Action) store.Event {
		return store.Event{Time: time.Now().UTC(), TenantID: tenantID, Actor: "system:quickstart", Action: action, Outcome: audit.Success}
	}
	t, err := a.Store.GetTenant(ctx, demoTenant)
	if errors.Is(err, store.ErrNotFound) {
		t = &store.Tenant{Name: demoTenant}
		err = a.Tenants.Create(ctx, t, ev("", audit.TenantCreate))
	}
	if err != nil {
		return fmt.Errorf("quickstart: %w", err)
	}
	if err := a.Clients.Delete(ctx, demoClient, ev(t.ID, audit.ClientDelete)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("quickstart: %w", err)
	}
	c := &store.Client{ID: demoClient, TenantID: t.ID, Name: "Demo M2M integration",
		Scopes: []string{"submissions:read", "submissions:write"}, Audiences: []string{"https://api.demo.example"}}
	secret, err := a.Clients.Create(ctx, c, ev(t.ID, audit.ClientCreate))
	if err != nil {
		return fmt.Errorf("quickstart: %w", err)
	}
	iss := a.PublicURL()
	fmt.Fprintf(env.stdout, `Gatehouse quickstart (dev mode, database %s)
  issuer / public API: %s
  admin API:           %s/admin/v1   (OpenAPI: %s/admin/v1/openapi.json)

Demo tenant %q has an M2M client:
  client_id:     %s
  client_secret: %s   (shown once)

Get an access token (client_credentials, RFC 6749 §4.4):
  curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth2/token

The same with a JSON body and an audience:
  curl -s -H 'Content-Type: application/json' -d '{"grant_type":"client_credentials","client_id":"%s","client_secret":"%s","audience":"https://api.demo.example"}' %s/oauth2/token

%sDiscovery: %s/.well-known/oauth-authorization-server   Keys: %s/oauth2/jwks
List clients with the CLI: go run ./cmd/gatehouse client list --tenant %s
Press Ctrl-C to stop.

`, a.Config.DB, iss, a.AdminURL(), a.AdminURL(), demoTenant, c.ID, secret,
		c.ID, secret, iss, c.ID, secret, iss, demoCalls(demo, iss, c.ID, secret), iss, iss, demoTenant)
	return nil
}

// demoCalls shows the demo submissions API called through the gateway.
func demoCalls(demo bool, iss, id, secret string) string {
	if !demo {
		return ""
	}
	return fmt.Sprintf(`Call the demo submissions API through the gateway with that token:
  TOKEN=$(curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth2/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -s -H "Authorization: Bearer $TOKEN" %s/api/%s/submissions
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"title":"XSS in search","severity":"high"}' %s/api/%s/submissions
  curl -si -H "Authorization: Bearer $TOKEN" %s/api/%s/v1.1/submissions   (deprecated version: see the Deprecation and Sunset headers)

`, id, secret, iss, iss, demoTenant, iss, demoTenant, iss, demoTenant)
}
