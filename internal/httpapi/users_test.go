package httpapi_test

import (
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
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

type usersFixture struct {
	api   *admin.API
	store store.Store
	url   string
	token string
	users *users.Service
}

// newUsersFixture serves the admin API, users included, over SQLite with
// a tenant "acme" (and "globex" for crossing tenants).
func newUsersFixture(t *testing.T) *usersFixture {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	us := &users.Service{Store: s, Now: now, Log: log, Params: secret.PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	token := secret.New(secret.AdminToken)
	d := secret.Hash(token)
	mux := http.NewServeMux()
	(&httpapi.API{Store: s, Tenants: &tenants.Service{Store: s, Now: now}, Clients: &clients.Service{Store: s, Owners: us, Now: now, Log: log},
		Users: us, BootstrapToken: &d, Log: log, Now: now}).Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := &usersFixture{api: admin.New(srv.URL, token), store: s, url: srv.URL, token: token, users: us}
	for _, name := range []string{"acme", "globex"} {
		if _, err := f.api.CreateTenant(ctx, admin.TenantInput{Name: &name}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *usersFixture) raw(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *usersFixture) mustUser(t *testing.T, email string, roles ...string) *admin.User {
	t.Helper()
	in := admin.UserInput{Email: &email}
	if roles != nil {
		in.Roles = &roles
	}
	u, err := f.api.CreateUser(ctx, "acme", in)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

func wantStatus(t *testing.T, err error, status int, code string) *admin.Error {
	t.Helper()
	var e *admin.Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code {
		t.Fatalf("err = %v, want %d %s", err, status, code)
	}
	return e
}

func TestUsersCRUD(t *testing.T) {
	f := newUsersFixture(t)
	pw, name := "correct horse battery", "Ada Lovelace"
	u, err := f.api.CreateUser(ctx, "acme", admin.UserInput{Email: ptrTo("Ada@Example.com"), Name: &name, Password: &pw,
		Roles: &[]string{"super"}})
	if err != nil || u.Email != "Ada@Example.com" || !u.HasPassword || !u.APIAccess || u.APIEnabled || u.Tenant != "acme" ||
		len(u.Groups) != 0 || u.LastLoginAt != nil {
		t.Fatalf("create: %+v, %v", u, err)
	}
	// The password and its hash appear in no response.
	for _, path := range []string{"/admin/v1/tenants/acme/users/" + u.ID, "/admin/v1/tenants/acme/users"} {
		status, body := f.raw(t, "GET", path, "")
		if status != 200 || strings.Contains(body, pw) || strings.Contains(body, "argon2") || strings.Contains(body, `"password"`) {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
	}
	if _, err := f.users.Login(ctx, "t_none", "ada@example.com", pw); !errors.Is(err, users.ErrBadCredentials) {
		t.Fatal("login in a tenant the user is not in")
	}
	bob := f.mustUser(t, "bob@example.com", "program_member")
	if bob.APIAccess {
		t.Fatal("a program member has API access without api_enabled")
	}
	got, err := f.api.UpdateUser(ctx, "acme", bob.ID, admin.UserInput{Name: ptrTo("Bob"), APIEnabled: ptrTo(true)})
	if err != nil || got.Name != "Bob" || !got.APIEnabled || !got.APIAccess || got.Email != "bob@example.com" {
		t.Fatalf("update: %+v, %v", got, err)
	}
	page, err := f.api.ListUsers(ctx, "acme", "ADA", "", 0)
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != u.ID {
		t.Fatalf("search: %+v, %v", page, err)
	}
	page, err = f.api.ListUsers(ctx, "acme", "", "", 1)
	if err != nil || len(page.Items) != 1 || page.Next == nil {
		t.Fatalf("page 1: %+v, %v", page, err)
	}
	if rest, _ := f.api.ListUsers(ctx, "acme", "", *page.Next, 10); len(rest.Items) != 1 || rest.Items[0].ID == page.Items[0].ID {
		t.Fatalf("page 2: %+v", rest)
	}
	// Another tenant's user is "not found" through this one.
	other, err := f.api.CreateUser(ctx, "globex", admin.UserInput{Email: ptrTo("ada@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.api.GetUser(ctx, "acme", other.ID)
	wantStatus(t, err, 404, "not_found")
	wantStatus(t, f.api.DeleteUser(ctx, "acme", other.ID), 404, "not_found")

	if err := f.api.DeleteUser(ctx, "acme", bob.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.api.GetUser(ctx, "acme", bob.ID)
	wantStatus(t, err, 404, "not_found")

	evs, _ := f.api.Audit(ctx, "acme", admin.AuditQuery{Action: "user."})
	var actions []string
	for _, e := range evs.Items {
		actions = append(actions, e.Action+" "+e.Target)
		if e.Actor != "admin:bootstrap" {
			t.Errorf("event %s has actor %q", e.Action, e.Actor)
		}
	}
	if strings.Join(actions, ",") != strings.Join([]string{"user.delete " + bob.ID, "user.update " + bob.ID, "user.create " + bob.ID, "user.create " + u.ID}, ",") {
		t.Fatalf("audit: %v", actions)
	}
}

func TestUsersErrors(t *testing.T) {
	f := newUsersFixture(t)
	boss := f.mustUser(t, "boss@example.com", "super")
	f.mustUser(t, "Ada@Example.com")

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, want               string // want: in the body
	}{
		{"bad email", "POST", "/users", `{"email":"not-an-email"}`, 400, "invalid_request", "email must be"},
		{"display-name email", "POST", "/users", `{"email":"Ada <x@example.com>"}`, 400, "invalid_request", "email must be"},
		{"short password", "POST", "/users", `{"email":"c@example.com","password":"short"}`, 400, "invalid_request", "password must be"},
		{"unknown role", "POST", "/users", `{"email":"c@example.com","roles":["wizard"]}`, 400, "invalid_request", `role \"wizard\"`},
		{"unknown field", "POST", "/users", `{"email":"c@example.com","password_hash":"x"}`, 400, "invalid_request", "unknown field"},
		{"duplicate email differing in case", "POST", "/users", `{"email":"ada@EXAMPLE.com"}`, 409, "conflict", "emails ignore case"},
		{"last super loses the role", "PATCH", "/users/" + boss.ID, `{"roles":["company_admin"]}`, 409, "conflict", "last super"},
		{"last super deleted", "DELETE", "/users/" + boss.ID, "", 409, "conflict", "last super"},
		{"unknown user", "GET", "/users/usr_nope", "", 404, "not_found", ""},
		{"hostile user id", "GET", "/users/a%00b", "", 404, "not_found", ""},
		{"bad search", "GET", "/users?q=a%00b", "", 400, "invalid_request", ""},
		{"bulk without enabled", "POST", "/users/api-access", `{"user_ids":["` + boss.ID + `"]}`, 400, "invalid_request", "enabled"},
		{"bulk without ids", "POST", "/users/api-access", `{"user_ids":[],"enabled":true}`, 400, "invalid_request", "user_ids"},
		{"bad group name", "POST", "/groups", `{"name":"has space"}`, 400, "invalid_request", "invalid group"},
		{"preset role name", "POST", "/roles", `{"name":"super","scopes":["x"]}`, 400, "invalid_request", "preset"},
		{"delete preset role", "DELETE", "/roles/super", "", 404, "not_found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.raw(t, tc.method, "/admin/v1/tenants/acme"+tc.path, tc.body)
			if status != tc.status || !strings.Contains(body, `"error":"`+tc.code+`"`) || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s, want %d %s with %q", status, body, tc.status, tc.code, tc.want)
			}
		})
	}
	if u, _ := f.api.GetUser(ctx, "acme", boss.ID); len(u.Roles) != 1 || u.Roles[0] != "super" {
		t.Fatalf("the refused change was applied: %+v", u)
	}
	// With a second super, the first may go.
	second := f.mustUser(t, "second@example.com", "super")
	if _, err := f.api.UpdateUser(ctx, "acme", boss.ID, admin.UserInput{Roles: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f.api.DeleteUser(ctx, "acme", second.ID), 409, "conflict")
}

// The bulk change is all or nothing: an unknown id is named and nothing
// changes, events included.
func TestUsersBulkAPIAccess(t *testing.T) {
	f := newUsersFixture(t)
	a, b := f.mustUser(t, "a@example.com"), f.mustUser(t, "b@example.com")
	foreign, _ := f.api.CreateUser(ctx, "globex", admin.UserInput{Email: ptrTo("c@example.com")})
	for _, bad := range []string{"usr_missing", foreign.ID} {
		e := wantStatus(t, f.api.SetAPIAccess(ctx, "acme", []string{a.ID, bad, b.ID}, true), 404, "not_found")
		if !strings.Contains(e.Description, bad) {
			t.Fatalf("404 does not name %s: %q", bad, e.Description)
		}
	}
	for _, u := range []*admin.User{a, b} {
		if got, _ := f.api.GetUser(ctx, "acme", u.ID); got.APIEnabled {
			t.Fatalf("%s enabled by a refused bulk change", u.Email)
		}
	}
	if evs, _ := f.api.Audit(ctx, "acme", admin.AuditQuery{Action: "user.enable_api"}); len(evs.Items) != 0 {
		t.Fatalf("refused bulk change left %d events", len(evs.Items))
	}
	if err := f.api.SetAPIAccess(ctx, "acme", []string{a.ID, b.ID, a.ID}, true); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*admin.User{a, b} {
		if got, _ := f.api.GetUser(ctx, "acme", u.ID); !got.APIEnabled || !got.APIAccess {
			t.Fatalf("%s not enabled: %+v", u.Email, got)
		}
	}
	if evs, _ := f.api.Audit(ctx, "acme", admin.AuditQuery{Action: "user.enable_api"}); len(evs.Items) != 2 {
		t.Fatalf("bulk change left %d events, want one per user", len(evs.Items))
	}
	if err := f.api.SetAPIAccess(ctx, "acme", []string{b.ID}, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.api.GetUser(ctx, "acme", b.ID); got.APIEnabled {
		t.Fatal("disable did not apply")
	}
}

func TestGroupsAndRoles(t *testing.T) {
	f := newUsersFixture(t)
	u := f.mustUser(t, "a@example.com")
	g, err := f.api.CreateGroup(ctx, "acme", admin.GroupInput{Name: ptrTo("integrators")})
	if err != nil || g.APIEnabled || g.Tenant != "acme" {
		t.Fatalf("create group: %+v, %v", g, err)
	}
	_, err = f.api.CreateGroup(ctx, "acme", admin.GroupInput{Name: ptrTo("integrators")})
	wantStatus(t, err, 409, "conflict")
	for range 2 {
		if err := f.api.AddGroupMember(ctx, "acme", g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := f.api.GetUser(ctx, "acme", u.ID); len(got.Groups) != 1 || got.Groups[0] != g.ID || got.APIAccess {
		t.Fatalf("member: %+v", got)
	}
	if _, err := f.api.UpdateGroup(ctx, "acme", g.ID, admin.GroupInput{APIEnabled: ptrTo(true)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.api.GetUser(ctx, "acme", u.ID); !got.APIAccess || got.APIEnabled {
		t.Fatalf("API access through the group: %+v", got)
	}
	members, err := f.api.ListGroupMembers(ctx, "acme", g.ID, "", 0)
	if err != nil || len(members.Items) != 1 || members.Items[0].ID != u.ID {
		t.Fatalf("members: %+v, %v", members, err)
	}
	foreign, _ := f.api.CreateUser(ctx, "globex", admin.UserInput{Email: ptrTo("x@example.com")})
	wantStatus(t, f.api.AddGroupMember(ctx, "acme", g.ID, foreign.ID), 404, "not_found")
	if err := f.api.RemoveGroupMember(ctx, "acme", g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f.api.RemoveGroupMember(ctx, "acme", g.ID, u.ID), 404, "not_found")
	if list, _ := f.api.ListGroups(ctx, "acme", "", 0); len(list.Items) != 1 {
		t.Fatalf("groups: %+v", list)
	}
	if err := f.api.DeleteGroup(ctx, "acme", g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.api.GetGroup(ctx, "acme", g.ID)
	wantStatus(t, err, 404, "not_found")

	roles, err := f.api.ListRoles(ctx, "acme")
	if err != nil || len(roles) != 7 || roles[0].Name != "super" || !roles[0].Preset || len(roles[0].Scopes) != 10 {
		t.Fatalf("roles: %+v, %v", roles, err)
	}
	r, err := f.api.CreateRole(ctx, "acme", admin.RoleInput{Name: "auditor", Scopes: []string{"submissions:read"}})
	if err != nil || r.Name != "auditor" || r.Preset {
		t.Fatalf("create role: %+v, %v", r, err)
	}
	if _, err := f.api.UpdateUser(ctx, "acme", u.ID, admin.UserInput{Roles: &[]string{"auditor"}}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f.api.DeleteRole(ctx, "acme", "auditor"), 409, "conflict")
	if _, err := f.api.UpdateUser(ctx, "acme", u.ID, admin.UserInput{Roles: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	if err := f.api.DeleteRole(ctx, "acme", "auditor"); err != nil {
		t.Fatal(err)
	}
	if roles, _ := f.api.ListRoles(ctx, "acme"); len(roles) != 7 {
		t.Fatalf("roles after delete: %d", len(roles))
	}
	evs, _ := f.api.Audit(ctx, "acme", admin.AuditQuery{})
	want := map[string]bool{"group.create": true, "group.update": true, "group.add_member": true, "group.remove_member": true,
		"group.delete": true, "role.create": true, "role.delete": true}
	for _, e := range evs.Items {
		delete(want, e.Action)
	}
	if len(want) != 0 {
		t.Fatalf("mutations without events: %v", want)
	}
}

func ptrTo[T any](v T) *T { return &v }
