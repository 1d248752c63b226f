package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/tenants"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

var ctx = context.Background()

type fixture struct {
	api   *admin.API
	store store.Store
}

// newFixture serves the admin API over a fresh SQLite store.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cs := &clients.Service{Store: s, Now: now, CacheTTL: time.Second, Log: log}
	token := secret.New(secret.AdminToken)
	d := secret.Hash(token)
	mux := http.NewServeMux()
	(&httpapi.API{Store: s, Tenants: &tenants.Service{Store: s, Now: now}, Clients: cs, BootstrapToken: &d, Log: log, Now: now}).Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{api: admin.New(srv.URL, token), store: s}
}

func quota(n int, per int64) *admin.Quota { return &admin.Quota{Count: n, Per: per} }

// wantInvalid checks the API's validation error: 400, invalid_request,
// one problem naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var e *admin.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "invalid_request" ||
		len(e.Problems) != 1 || !strings.HasPrefix(e.Problems[0], field) {
		t.Fatalf("err = %#v, want 400 invalid_request about %s", err, field)
	}
}

// updates counts the audit events of an action: a refused change leaves none.
func (f *fixture) updates(t *testing.T, tenantID, action string) int {
	t.Helper()
	evs, err := f.store.ListEvents(ctx, store.EventQuery{TenantID: tenantID, Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func TestClientRateLimits(t *testing.T) {
	f := newFixture(t)
	name := "acme"
	tn, err := f.api.CreateTenant(ctx, admin.TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	cname := "erp"
	cl, err := f.api.CreateClient(ctx, "acme", admin.ClientInput{Name: &cname, RateLimits: &admin.RateLimitsInput{Read: quota(600, 60)}})
	if err != nil || cl.RateLimits != (admin.RateLimits{Read: *quota(600, 60)}) {
		t.Fatalf("create: %+v, %v", cl, err)
	}
	if got, err := f.api.GetClient(ctx, "acme", cl.ClientID); err != nil || got.RateLimits != cl.RateLimits {
		t.Fatalf("get: %+v, %v", got, err)
	}
	// A patch of one budget leaves the other alone; zeros go back to inheriting.
	want := admin.RateLimits{Read: *quota(600, 60), Write: *quota(200, 3600)}
	if got, err := f.api.UpdateClient(ctx, "acme", cl.ClientID, admin.ClientInput{RateLimits: &admin.RateLimitsInput{Write: quota(200, 3600)}}); err != nil || got.RateLimits != want {
		t.Fatalf("update write: %+v, %v", got, err)
	}
	want.Read = admin.Quota{}
	if got, err := f.api.UpdateClient(ctx, "acme", cl.ClientID, admin.ClientInput{RateLimits: &admin.RateLimitsInput{Read: quota(0, 0)}}); err != nil || got.RateLimits != want {
		t.Fatalf("update read to inherit: %+v, %v", got, err)
	}
	if c, _ := f.store.GetClient(ctx, cl.ClientID); c.RateLimits != (store.RateLimits{Write: store.Quota{Count: 200, Per: time.Hour}}) {
		t.Fatalf("stored: %+v", c.RateLimits)
	}

	before := f.updates(t, tn.ID, "client.update")
	for label, in := range map[string]struct {
		limits admin.RateLimitsInput
		field  string
	}{
		"count without per": {admin.RateLimitsInput{Read: quota(10, 0)}, "rate_limits.read"},
		"per without count": {admin.RateLimitsInput{Write: quota(0, 60)}, "rate_limits.write"},
		"count too high":    {admin.RateLimitsInput{Write: quota(1_000_001, 60)}, "rate_limits.write"},
		"negative":          {admin.RateLimitsInput{Read: quota(-1, 60)}, "rate_limits.read"},
		"per over a day":    {admin.RateLimitsInput{Read: quota(10, 86401)}, "rate_limits.read"},
		"per overflows":     {admin.RateLimitsInput{Read: quota(10, 1<<62)}, "rate_limits.read"},
	} {
		_, err := f.api.UpdateClient(ctx, "acme", cl.ClientID, admin.ClientInput{RateLimits: &in.limits})
		wantInvalid(t, err, in.field)
		if got, _ := f.api.GetClient(ctx, "acme", cl.ClientID); got.RateLimits != want {
			t.Fatalf("%s: a refused update changed the client: %+v", label, got.RateLimits)
		}
	}
	if n := f.updates(t, tn.ID, "client.update"); n != before {
		t.Fatalf("refused updates left %d audit events", n-before)
	}
	_, err = f.api.CreateClient(ctx, "acme", admin.ClientInput{Name: &cname, RateLimits: &admin.RateLimitsInput{Write: quota(5, 0)}})
	wantInvalid(t, err, "rate_limits.write")
	if list, _ := f.api.ListClients(ctx, "acme", "", 10); len(list.Items) != 1 {
		t.Fatalf("a refused create stored a client: %d clients", len(list.Items))
	}
}

func TestTenantRateLimits(t *testing.T) {
	f := newFixture(t)
	name := "acme"
	tn, err := f.api.CreateTenant(ctx, admin.TenantInput{Name: &name,
		Settings: &admin.TenantSettingsInput{RateLimits: &admin.RateLimitsInput{Write: quota(50, 1)}}})
	if err != nil || tn.Settings.RateLimits != (admin.RateLimits{Write: *quota(50, 1)}) {
		t.Fatalf("create: %+v, %v", tn, err)
	}
	want := admin.RateLimits{Read: *quota(1_000_000, 86400), Write: *quota(50, 1)}
	got, err := f.api.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{RateLimits: &admin.RateLimitsInput{Read: quota(1_000_000, 86400)}}})
	if err != nil || got.Settings.RateLimits != want {
		t.Fatalf("update: %+v, %v", got, err)
	}
	if got, err := f.api.GetTenant(ctx, "acme"); err != nil || got.Settings.RateLimits != want {
		t.Fatalf("get: %+v, %v", got, err)
	}

	before := f.updates(t, tn.ID, "tenant.update")
	_, err = f.api.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{RateLimits: &admin.RateLimitsInput{Write: quota(50, 0)}}})
	wantInvalid(t, err, "rate_limits.write")
	if got, _ := f.api.GetTenant(ctx, "acme"); got.Settings.RateLimits != want {
		t.Fatalf("a refused update changed the tenant: %+v", got.Settings.RateLimits)
	}
	if n := f.updates(t, tn.ID, "tenant.update"); n != before {
		t.Fatalf("a refused update left %d audit events", n-before)
	}
	other := "globex"
	_, err = f.api.CreateTenant(ctx, admin.TenantInput{Name: &other,
		Settings: &admin.TenantSettingsInput{RateLimits: &admin.RateLimitsInput{Read: quota(2_000_000, 60)}}})
	wantInvalid(t, err, "rate_limits.read")
	if _, err := f.api.GetTenant(ctx, other); err == nil {
		t.Fatal("a refused create stored the tenant")
	}
}

// The wire shape is issue_quota's, per budget: count and per in seconds.
// Unknown fields inside it are refused like any other.
func TestRateLimitsWire(t *testing.T) {
	f := newFixture(t)
	name := "acme"
	if _, err := f.api.CreateTenant(ctx, admin.TenantInput{Name: &name}); err != nil {
		t.Fatal(err)
	}
	post := func(body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", f.api.BaseURL+"/admin/v1/tenants/acme/clients", bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.api.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	code, out := post(`{"name":"x","rate_limits":{"read":{"count":600,"per":60}}}`)
	got, _ := json.Marshal(out["rate_limits"])
	if code != http.StatusCreated || string(got) != `{"read":{"count":600,"per":60},"write":{"count":0,"per":0}}` {
		t.Fatalf("create: %d %s", code, got)
	}
	code, out = post(`{"name":"x","rate_limits":{"read":{"count":600,"per":60,"burst":10}}}`)
	if code != http.StatusBadRequest || out["error"] != "invalid_request" {
		t.Fatalf("unknown field: %d %v", code, out)
	}
}
