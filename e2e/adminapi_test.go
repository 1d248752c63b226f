package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

func adminReq(t *testing.T, s *apptest.Server, method, path, token, contentType, body string) response {
	t.Helper()
	req, _ := http.NewRequest(method, s.AdminURL()+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, s, req)
}

// Every route in the table (which TestOpenAPIMatchesRoutes holds equal to
// the OpenAPI document) answers, and none answers without the admin token.
func TestEveryDocumentedRouteAnswers(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{})
	setup(t, s, "globex", admin.ClientInput{})
	fill := strings.NewReplacer("{tenant}", "acme", "{client}", c.ClientID, "{secret}", "sec_nope", "{other}", "globex")
	for _, rt := range httpapi.Routes {
		path := fill.Replace(rt.Pattern)
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			r := adminReq(t, s, rt.Method, path, "", "", "")
			// RFC 6750 §3.1: no error code when no credentials were sent.
			if r.Status != 401 || r.Header.Get("WWW-Authenticate") != `Bearer realm="gatehouse-admin"` {
				t.Fatalf("without a token: %d %s %q", r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
			}
			for _, bad := range []string{"gate_adm_not-a-real-token", secret.New(secret.AdminToken), secret.New(secret.ClientSecret)} {
				r = adminReq(t, s, rt.Method, path, bad, "", "")
				if r.Status != 401 || r.JSON["error"] != "invalid_token" || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
					t.Fatalf("with a bad token: %d %s", r.Status, r.Body)
				}
			}
			body, ct := "", ""
			if rt.Method == "POST" || rt.Method == "PATCH" {
				body, ct = "{}", "application/json"
			}
			r = adminReq(t, s, rt.Method, path, s.AdminToken, ct, body)
			if r.Status == 405 || r.JSON["error_description"] == "no such admin endpoint" || r.Status >= 500 {
				t.Fatalf("documented route does not answer: %d %s", r.Status, r.Body)
			}
		})
	}
	r := adminReq(t, s, "GET", "/admin/v1/openapi.json", "", "", "")
	var doc map[string]any
	if r.Status != 200 || json.Unmarshal(r.Body, &doc) != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	if r := adminReq(t, s, "GET", "/admin/v1/nope", s.AdminToken, "", ""); r.Status != 404 {
		t.Fatalf("unknown route: %d", r.Status)
	}
}

func TestAdminAPIErrors(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		setup(t, s, "acme", admin.ClientInput{})
		other := setup(t, s, "globex", admin.ClientInput{})
		tok := s.AdminToken
		cases := []struct {
			name, method, path, ct, body string
			status                       int
			code                         string
		}{
			{"malformed JSON", "POST", "/admin/v1/tenants", "application/json", `{"name":`, 400, "invalid_request"},
			{"unknown field", "POST", "/admin/v1/tenants", "application/json", `{"name":"x","colour":"red"}`, 400, "invalid_request"},
			{"trailing data", "POST", "/admin/v1/tenants", "application/json", `{"name":"x"} {}`, 400, "invalid_request"},
			{"wrong content type", "POST", "/admin/v1/tenants", "text/plain", `{"name":"x"}`, 415, "invalid_request"},
			{"oversized", "POST", "/admin/v1/tenants", "application/json", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "invalid_request"},
			{"bad tenant name", "POST", "/admin/v1/tenants", "application/json", `{"name":"has space"}`, 400, "invalid_request"},
			{"duplicate tenant", "POST", "/admin/v1/tenants", "application/json", `{"name":"acme"}`, 409, "conflict"},
			{"tenant names are case-sensitive", "GET", "/admin/v1/tenants/ACME", "", "", 404, "not_found"},
			{"client of another tenant", "GET", "/admin/v1/tenants/acme/clients/" + other.ClientID, "", "", 404, "not_found"},
			{"bad limit", "GET", "/admin/v1/tenants?limit=0", "", "", 400, "invalid_request"},
			{"bad audit time", "GET", "/admin/v1/tenants/acme/audit?since=yesterday", "", "", 400, "invalid_request"},
			{"bad cursor", "GET", "/admin/v1/tenants/acme/audit?cursor=-3", "", "", 400, "invalid_request"},
			{"tenant names never change", "PATCH", "/admin/v1/tenants/acme", "application/json", `{"name":"acme2"}`, 400, "invalid_request"},
			{"quota count too large", "POST", "/admin/v1/tenants/acme/clients", "application/json", `{"name":"q","issue_quota":{"count":2000000000,"per":1}}`, 400, "invalid_request"},
			{"client name with control characters", "POST", "/admin/v1/tenants/acme/clients", "application/json", `{"name":"a\u0000b"}`, 400, "invalid_request"},
			{"hostile path segment", "GET", "/admin/v1/tenants/a%00b/clients/x%ffy", "", "", 404, "not_found"},
			{"bad key alg", "POST", "/admin/v1/keys/rotate", "application/json", `{"alg":"HS256"}`, 400, "invalid_request"},
			{"negative previous_expires_in", "POST", "/admin/v1/tenants/acme/clients/x/secrets", "application/json", `{"previous_expires_in":-1}`, 400, "invalid_request"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := adminReq(t, s, tc.method, tc.path, tok, tc.ct, tc.body)
				if r.Status != tc.status || r.JSON["error"] != tc.code {
					t.Fatalf("got %d %.300s, want %d %s", r.Status, r.Body, tc.status, tc.code)
				}
			})
		}
		// Validation lists every problem at once, and writes nothing.
		_, err := s.Admin.CreateClient(ctx, "acme", admin.ClientInput{Name: ptr(""), Scopes: &[]string{"bad scope"},
			TokenFormat: ptr("xml"), AccessTokenTTL: ptr(int64(5)), Grants: &[]string{"implicit"}, RedirectURIs: &[]string{"javascript:alert(1)"}})
		ae, ok := err.(*admin.Error)
		if !ok || ae.Status != 400 || len(ae.Problems) != 6 {
			t.Fatalf("validation: %v", err)
		}
		list, _ := s.Admin.ListClients(ctx, "acme", "", 0)
		if len(list.Items) != 1 {
			t.Fatalf("a refused client was written: %d clients", len(list.Items))
		}
	})
}

func TestAdminPagingAndAuditFilters(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		setup(t, s, "t-"+n, admin.ClientInput{})
	}
	var names []string
	after := ""
	for {
		page, err := s.Admin.ListTenants(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range page.Items {
			names = append(names, tn.Name)
		}
		if page.Next == nil {
			break
		}
		after = *page.Next
	}
	if strings.Join(names, ",") != "t-a,t-b,t-c,t-d,t-e" {
		t.Fatalf("paged tenants %v", names)
	}
	c := setup(t, s, "t-a", admin.ClientInput{})
	if _, err := s.Admin.UpdateClient(ctx, "t-a", c.ClientID, admin.ClientInput{Name: ptr("renamed")}); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Admin.Audit(ctx, "t-a", admin.AuditQuery{})
	if len(all.Items) != 4 || all.Items[0].Action != "client.update" || all.Items[3].Action != "tenant.create" ||
		all.Items[0].Actor != "admin:bootstrap" || all.Items[0].IP != "127.0.0.1" || all.Items[0].UserAgent == "" {
		t.Fatalf("audit %+v", all.Items)
	}
	page1, _ := s.Admin.Audit(ctx, "t-a", admin.AuditQuery{Limit: 3})
	page2, _ := s.Admin.Audit(ctx, "t-a", admin.AuditQuery{Limit: 3, Cursor: *page1.Next})
	if len(page1.Items) != 3 || len(page2.Items) != 1 || page2.Items[0].Action != "tenant.create" || page2.Next != nil {
		t.Fatalf("audit paging %+v / %+v", page1, page2)
	}
	clientEvents, _ := s.Admin.Audit(ctx, "t-a", admin.AuditQuery{Action: "client."})
	if len(clientEvents.Items) != 3 {
		t.Fatalf("prefix filter: %+v", clientEvents.Items)
	}
	future, _ := s.Admin.Audit(ctx, "t-a", admin.AuditQuery{Since: all.Items[0].Time.Add(3600e9)})
	if len(future.Items) != 0 {
		t.Fatalf("since filter: %+v", future.Items)
	}
	// Deleting the tenant deletes its clients; the deletion is a server-wide
	// event, since the tenant's own log goes with its URL.
	if err := s.Admin.DeleteTenant(ctx, "t-a"); err != nil {
		t.Fatal(err)
	}
	if evs, _ := s.Admin.Audit(ctx, "", admin.AuditQuery{Action: "tenant.delete"}); len(evs.Items) != 1 || evs.Items[0].Target != "t-a" {
		t.Fatalf("tenant deletion not in the server-wide log: %+v", evs.Items)
	}
	if r := postForm(t, s, "/oauth2/token", map[string][]string{"grant_type": {"client_credentials"}}, c.ClientID, c.ClientSecret); r.Status != 401 {
		t.Fatalf("client of a deleted tenant: %d", r.Status)
	}
}
