package users

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

var ctx = context.Background()

// cheap keeps hashing fast in tests; the PHC format is the same.
var cheap = secret.PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const goodPassword = "correct horse battery"

type fixture struct {
	svc    *Service
	store  store.Store
	tenant string
	clock  time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "u.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s, tenant: "tn_acme", clock: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	if err := s.CreateTenant(ctx, &store.Tenant{ID: f.tenant, Name: "acme", CreatedAt: f.clock, UpdatedAt: f.clock}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	f.svc = &Service{Store: s, Now: func() time.Time { return f.clock }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Params: cheap}
	return f
}

func ev(action store.Action) store.Event {
	return store.Event{Action: action, Actor: "admin:test", Outcome: "success"}
}

func ptr[T any](v T) *T { return &v }

func (f *fixture) user(t *testing.T, email string, p Patch) *store.User {
	t.Helper()
	p.Email = &email
	u, err := f.svc.Create(ctx, f.tenant, &p, ev("user.create"))
	if err != nil {
		t.Fatalf("Create(%s): %v", email, err)
	}
	return u
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "Ada@Example.com", Patch{Password: ptr(goodPassword)})
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("stored hash %q", u.PasswordHash)
	}
	f.user(t, "nopass@example.com", Patch{})

	f.clock = f.clock.Add(time.Hour)
	got, err := f.svc.Login(ctx, f.tenant, "ada@EXAMPLE.com", goodPassword)
	if err != nil || got.ID != u.ID || !got.LastLoginAt.Equal(f.clock) {
		t.Fatalf("Login = %+v, %v", got, err)
	}
	if stored, _ := f.store.GetUser(ctx, u.ID); !stored.LastLoginAt.Equal(f.clock) {
		t.Fatalf("last_login_at not recorded: %v", stored.LastLoginAt)
	}
	for name, tc := range map[string]struct{ tenant, email, password string }{
		"wrong password":     {f.tenant, "ada@example.com", goodPassword + "!"},
		"empty password":     {f.tenant, "ada@example.com", ""},
		"unknown email":      {f.tenant, "bob@example.com", goodPassword},
		"no password set":    {f.tenant, "nopass@example.com", ""},
		"other tenant":       {"tn_other", "ada@example.com", goodPassword},
		"oversized password": {f.tenant, "ada@example.com", strings.Repeat("x", MaxPassword+1)},
	} {
		if u, err := f.svc.Login(ctx, tc.tenant, tc.email, tc.password); !errors.Is(err, ErrBadCredentials) || u != nil {
			t.Errorf("%s: Login = %v, %v; want ErrBadCredentials", name, u, err)
		}
	}
}

// An unknown email costs one argon2id verification with the same
// parameters as a real one, so timing does not tell which emails exist.
func TestLoginDummyPath(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.Login(ctx, f.tenant, "nobody@example.com", goodPassword); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	p, err := secret.PasswordParamsOf(f.svc.dummy)
	if err != nil || p != cheap {
		t.Fatalf("dummy hash %q has params %+v (%v), want the service's %+v", f.svc.dummy, p, err, cheap)
	}
	// With the default parameters the dummy hash uses the defaults too.
	d := &Service{}
	d.dummyVerify("x")
	if p, _ := secret.PasswordParamsOf(d.dummy); p != secret.DefaultPasswordParams() {
		t.Fatalf("default dummy params %+v", p)
	}
}

func TestLoginTamperedHash(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ada@example.com", Patch{Password: ptr(goodPassword)})
	if _, err := f.store.UpdateUser(ctx, u.ID, func(u *store.User) error {
		u.PasswordHash = strings.Replace(u.PasswordHash, "t=1", "t=2", 1)
		return nil
	}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, f.tenant, "ada@example.com", goodPassword); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("login against tampered parameters: %v", err)
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ada@example.com", Patch{})
	if err := f.svc.CreateRole(ctx, &store.Role{TenantID: f.tenant, Name: "auditor", Scopes: []string{"submissions:read"}}, ev("role.create")); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		p    Patch
		want []string // problem prefixes
	}{
		"no email":           {Patch{}, []string{"email"}},
		"display name":       {Patch{Email: ptr("Ada <x@example.com>")}, []string{"email"}},
		"not an address":     {Patch{Email: ptr("example.com")}, []string{"email"}},
		"too long":           {Patch{Email: ptr(strings.Repeat("a", 250) + "@x.io")}, []string{"email"}},
		"short password":     {Patch{Email: ptr("b@example.com"), Password: ptr("elevenchars")}, []string{"password"}},
		"long password":      {Patch{Email: ptr("b@example.com"), Password: ptr(strings.Repeat("x", 1025))}, []string{"password"}},
		"control in name":    {Patch{Email: ptr("b@example.com"), Name: ptr("a\x00b")}, []string{"name"}},
		"unknown role":       {Patch{Email: ptr("b@example.com"), Roles: &[]string{"auditor", "wizard"}}, []string{`role "wizard"`}},
		"duplicate role":     {Patch{Email: ptr("b@example.com"), Roles: &[]string{"super", "super"}}, []string{"roles has duplicates"}},
		"everything at once": {Patch{Email: ptr("nope"), Password: ptr("short"), Roles: &[]string{"x"}}, []string{"email", "password", `role "x"`}},
	} {
		_, err := f.svc.Create(ctx, f.tenant, &tc.p, ev("user.create"))
		var inv *InvalidError
		if !errors.As(err, &inv) || len(inv.Problems) != len(tc.want) {
			t.Errorf("%s: %v, want problems about %v", name, err, tc.want)
			continue
		}
		for i, p := range inv.Problems {
			if !strings.HasPrefix(p, tc.want[i]) {
				t.Errorf("%s: problem %q, want one about %s", name, p, tc.want[i])
			}
		}
	}
	// Twelve characters, not bytes: a short multi-byte password is refused.
	if _, err := f.svc.Create(ctx, f.tenant, &Patch{Email: ptr("c@example.com"), Password: ptr("ééééééé")}, ev("user.create")); err == nil {
		t.Fatal("a 7-character password of 14 bytes was accepted")
	}
	if _, err := f.svc.Create(ctx, f.tenant, &Patch{Email: ptr("ADA@example.com")}, ev("user.create")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate email differing in case: %v", err)
	}
	for name, r := range map[string]store.Role{
		"preset name": {Name: "super", Scopes: []string{"x"}},
		"bad name":    {Name: "Has Space", Scopes: []string{"x"}},
		"no scopes":   {Name: "empty"},
		"bad scope":   {Name: "quoted", Scopes: []string{`a"b`}},
	} {
		r.TenantID = f.tenant
		var inv *InvalidError
		if err := f.svc.CreateRole(ctx, &r, ev("role.create")); !errors.As(err, &inv) {
			t.Errorf("%s: CreateRole = %v, want InvalidError", name, err)
		}
	}
}

func TestScopes(t *testing.T) {
	f := newFixture(t)
	if err := f.svc.CreateRole(ctx, &store.Role{TenantID: f.tenant, Name: "auditor", Scopes: []string{"audit:read", "submissions:read"}}, ev("role.create")); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		roles []string
		want  string
	}{
		"none":           {nil, ""},
		"member":         {[]string{"program_member"}, "programs:read submissions:read"},
		"union":          {[]string{"group_member", "program_member"}, "groups:read programs:read submissions:read"},
		"tenant role":    {[]string{"auditor", "program_member"}, "audit:read programs:read submissions:read"},
		"undefined role": {[]string{"gone"}, ""},
	} {
		got, err := f.svc.Scopes(ctx, &store.User{TenantID: f.tenant, Roles: tc.roles})
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%s: Scopes = %v, %v; want %q", name, got, err, tc.want)
		}
	}
	// super holds every scope any preset grants, and no wildcard.
	super, _ := f.svc.Scopes(ctx, &store.User{TenantID: f.tenant, Roles: []string{RoleSuper}})
	for _, name := range presetOrder {
		p, _ := Preset(name)
		for _, s := range p {
			if !slices.Contains(super, s) {
				t.Errorf("super lacks %s (granted by %s)", s, name)
			}
		}
	}
	if slices.Contains(super, "*") || len(super) != 10 {
		t.Errorf("super scopes = %v", super)
	}
	roles, err := f.svc.Roles(ctx, f.tenant)
	if err != nil || len(roles) != 8 || roles[0].Name != RoleSuper || !roles[0].Preset || roles[7].Name != "auditor" || roles[7].Preset {
		t.Fatalf("Roles = %+v, %v", roles, err)
	}
}

func TestHasAPIAccess(t *testing.T) {
	f := newFixture(t)
	on, off := true, false
	enabled, err := f.svc.CreateGroup(ctx, f.tenant, &GroupPatch{Name: ptr("integrators"), APIEnabled: &on}, ev("group.create"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := f.svc.CreateGroup(ctx, f.tenant, &GroupPatch{Name: ptr("staff")}, ev("group.create"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		p      Patch
		groups []string
		want   bool
	}{
		"nobody special":    {Patch{Roles: &[]string{"company_admin"}}, nil, false},
		"api_enabled":       {Patch{APIEnabled: &on}, nil, true},
		"super":             {Patch{Roles: &[]string{RoleSuper}, APIEnabled: &off}, nil, true},
		"enabled group":     {Patch{}, []string{plain.ID, enabled.ID}, true},
		"group without API": {Patch{}, []string{plain.ID}, false},
	} {
		u := f.user(t, strings.ReplaceAll(name, " ", ".")+"@example.com", tc.p)
		for _, g := range tc.groups {
			if err := f.svc.AddMember(ctx, f.tenant, g, u.ID, ev("group.add_member")); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := f.svc.HasAPIAccess(ctx, u); err != nil || got != tc.want {
			t.Errorf("%s: HasAPIAccess = %v, %v; want %v", name, got, err, tc.want)
		}
	}
	// Turning the group's flag off is seen at once.
	u := f.user(t, "late@example.com", Patch{})
	if err := f.svc.AddMember(ctx, f.tenant, enabled.ID, u.ID, ev("group.add_member")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateGroup(ctx, f.tenant, enabled.ID, &GroupPatch{APIEnabled: &off}, ev("group.update")); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.HasAPIAccess(ctx, u); got {
		t.Fatal("API access outlived the group's flag")
	}
}

func TestLastSuperAndTenantBoundaries(t *testing.T) {
	f := newFixture(t)
	boss := f.user(t, "boss@example.com", Patch{Roles: &[]string{RoleSuper}})
	if _, err := f.svc.Update(ctx, f.tenant, boss.ID, &Patch{Roles: &[]string{"company_admin"}}, ev("user.update")); !errors.Is(err, ErrLastSuper) {
		t.Fatalf("removing the last super: %v", err)
	}
	if err := f.svc.Delete(ctx, f.tenant, boss.ID, ev("user.delete")); !errors.Is(err, ErrLastSuper) {
		t.Fatalf("deleting the last super: %v", err)
	}
	if _, err := f.svc.Get(ctx, "tn_other", boss.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another tenant's user: %v", err)
	}
	if _, err := f.svc.Update(ctx, "tn_other", boss.ID, &Patch{Name: ptr("x")}, ev("user.update")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("updating another tenant's user: %v", err)
	}
	// A password can be set and removed.
	u, err := f.svc.Update(ctx, f.tenant, boss.ID, &Patch{Password: ptr(goodPassword)}, ev("user.update"))
	if err != nil || u.PasswordHash == "" {
		t.Fatalf("set password: %v", err)
	}
	if u, err = f.svc.Update(ctx, f.tenant, boss.ID, &Patch{Password: ptr("")}, ev("user.update")); err != nil || u.PasswordHash != "" {
		t.Fatalf("remove password: %v", err)
	}
	if err := f.svc.SetAPIEnabled(ctx, f.tenant, nil, true, ev("user.enable_api")); err == nil {
		t.Fatal("an empty bulk change was accepted")
	}
	if err := f.svc.DeleteRole(ctx, f.tenant, RoleSuper, ev("role.delete")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a preset: %v", err)
	}
	if err := f.svc.CreateRole(ctx, &store.Role{TenantID: f.tenant, Name: "auditor", Scopes: []string{"x"}}, ev("role.create")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Update(ctx, f.tenant, boss.ID, &Patch{Roles: &[]string{RoleSuper, "auditor"}}, ev("user.update")); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteRole(ctx, f.tenant, "auditor", ev("role.delete")); !errors.Is(err, ErrRoleInUse) {
		t.Fatalf("deleting a held role: %v", err)
	}
}
