package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func mustUser(t *testing.T, s store.Store, tenantID, id, email string, roles ...string) *store.User {
	t.Helper()
	u := &store.User{ID: id, TenantID: tenantID, Email: email, Name: "User " + id, PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
		Roles: roles, CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateUser(ctx, u, ev("user.create", tenantID)); err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
	return u
}

func mustGroup(t *testing.T, s store.Store, tenantID, id, name string) *store.Group {
	t.Helper()
	g := &store.Group{ID: id, TenantID: tenantID, Name: name, CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateGroup(ctx, g, ev("group.create", tenantID)); err != nil {
		t.Fatalf("CreateGroup(%s): %v", id, err)
	}
	return g
}

func ids(users []store.User) []string {
	var out []string
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}

func testUsers(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u := mustUser(t, s, tn.ID, "u1", "Ada@Example.com", "super", "program_admin")
	mustUser(t, s, tn.ID, "u2", "bob@example.com")
	mustUser(t, s, tn.ID, "u3", "carol@example.com")
	wantErr(t, s.CreateUser(ctx, u, ev("user.create", tn.ID)), store.ErrConflict)

	got, err := s.GetUser(ctx, "u1")
	if err != nil || got.Email != "Ada@Example.com" || got.PasswordHash != u.PasswordHash || fmt.Sprint(got.Roles) != "[super program_admin]" ||
		got.APIEnabled || got.Groups == nil || len(got.Groups) != 0 || !got.CreatedAt.Equal(u.CreatedAt) || !got.LastLoginAt.IsZero() {
		t.Fatalf("GetUser = %+v, %v", got, err)
	}
	if got, _ := s.GetUser(ctx, "u2"); got.Roles == nil {
		t.Fatal("a user without roles reads back nil roles, want empty")
	}
	_, err = s.GetUser(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	at := now().Add(time.Minute)
	if err := s.RecordLogin(ctx, "u1", at); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RecordLogin(ctx, "nope", at), store.ErrNotFound)
	up, err := s.UpdateUser(ctx, "u1", func(u *store.User) error {
		u.TenantID, u.Name, u.APIEnabled = "elsewhere", "Ada L.", true // the tenant never changes
		u.RateLimits.Write = store.Quota{Count: 5, Per: time.Minute}
		return nil
	}, ev("user.update", tn.ID))
	if err != nil || up.TenantID != tn.ID || up.Name != "Ada L." || !up.LastLoginAt.Equal(at) {
		t.Fatalf("UpdateUser = %+v, %v", up, err)
	}
	if got, _ := s.GetUser(ctx, "u1"); !got.APIEnabled || got.Name != "Ada L." || got.RateLimits.Write.Count != 5 || got.RateLimits.Read.Count != 0 {
		t.Fatalf("update not stored: %+v", got)
	}
	boom := errors.New("refused")
	_, err = s.UpdateUser(ctx, "u1", func(u *store.User) error { u.Name = "x"; return boom }, ev("user.update", tn.ID))
	wantErr(t, err, boom)
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "user.update"}); len(evs) != 1 {
		t.Fatalf("%d user.update events, want 1 (the aborted one leaves none)", len(evs))
	}

	list, err := s.ListUsers(ctx, tn.ID, store.UserQuery{Page: store.Page{Limit: 2}})
	if err != nil || fmt.Sprint(ids(list)) != "[u1 u2]" || list[0].Groups == nil {
		t.Fatalf("ListUsers page 1 = %v, %v", ids(list), err)
	}
	list, err = s.ListUsers(ctx, tn.ID, store.UserQuery{Page: store.Page{After: "u2"}})
	if err != nil || fmt.Sprint(ids(list)) != "[u3]" {
		t.Fatalf("ListUsers page 2 = %v, %v", ids(list), err)
	}
	for prefix, want := range map[string]string{"ada@": "[u1]", "user u": "[u2 u3]", "ada l": "[u1]", "b": "[u2]", "%": "[]", "_ob": "[]"} {
		list, err := s.ListUsers(ctx, tn.ID, store.UserQuery{Prefix: prefix})
		if got := fmt.Sprint(nonNilIDs(ids(list))); err != nil || got != want {
			t.Errorf("ListUsers(prefix %q) = %s, %v; want %s", prefix, got, err, want)
		}
	}
	if err := s.DeleteUser(ctx, "u2", ev("user.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteUser(ctx, "u2", ev("user.delete", tn.ID)), store.ErrNotFound)
	_, err = s.UpdateUser(ctx, "u2", func(*store.User) error { return nil }, ev("user.update", tn.ID))
	wantErr(t, err, store.ErrNotFound)
}

func nonNilIDs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Emails are unique per tenant ignoring case, and found ignoring case; the
// same email may sign in to two tenants.
func testUserEmailCaseInsensitive(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	mustUser(t, s, a.ID, "u1", "Ada@Example.com")
	dup := &store.User{ID: "u2", TenantID: a.ID, Email: "ada@EXAMPLE.com", CreatedAt: now(), UpdatedAt: now()}
	wantErr(t, s.CreateUser(ctx, dup, ev("user.create", a.ID)), store.ErrConflict)
	mustUser(t, s, b.ID, "u3", "ada@example.com")
	got, err := s.GetUserByEmail(ctx, a.ID, "ADA@example.COM")
	if err != nil || got.ID != "u1" || got.Groups == nil {
		t.Fatalf("GetUserByEmail = %+v, %v", got, err)
	}
	_, err = s.GetUserByEmail(ctx, a.ID, "bob@example.com")
	wantErr(t, err, store.ErrNotFound)
	// An update onto a taken email conflicts too.
	mustUser(t, s, a.ID, "u4", "bob@example.com")
	_, err = s.UpdateUser(ctx, "u4", func(u *store.User) error { u.Email = "ADA@example.com"; return nil }, ev("user.update", a.ID))
	wantErr(t, err, store.ErrConflict)
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: a.ID, Action: "user.create"}); len(evs) != 2 {
		t.Fatalf("%d user.create events, want 2 (the refused one leaves none)", len(evs))
	}
}

// Bulk enabling is all or nothing: an unknown id (or another tenant's
// user) is named, and nothing changes.
func testUsersAPIEnabledBulk(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	mustUser(t, s, a.ID, "u1", "a@example.com")
	mustUser(t, s, a.ID, "u2", "b@example.com")
	mustUser(t, s, b.ID, "u3", "c@example.com")
	for _, bad := range []string{"missing", "u3"} {
		err := s.SetUsersAPIEnabled(ctx, a.ID, []string{"u1", bad, "u2"}, true, ev("user.enable_api", a.ID))
		var nf *store.NotFoundError
		if !errors.As(err, &nf) || nf.ID != bad || !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetUsersAPIEnabled with %s: %v, want a NotFoundError naming it", bad, err)
		}
		for _, id := range []string{"u1", "u2", "u3"} {
			if u, _ := s.GetUser(ctx, id); u.APIEnabled {
				t.Fatalf("%s enabled by a refused bulk change", id)
			}
		}
	}
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: a.ID, Action: "user.enable_api"}); len(evs) != 0 {
		t.Fatalf("refused bulk change left %d events", len(evs))
	}
	if err := s.SetUsersAPIEnabled(ctx, a.ID, []string{"u1", "u2"}, true, ev("user.enable_api", a.ID)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"u1", "u2"} {
		if u, _ := s.GetUser(ctx, id); !u.APIEnabled {
			t.Fatalf("%s not enabled", id)
		}
	}
	evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: a.ID, Action: "user.enable_api"})
	if len(evs) != 2 || evs[0].Target != "u2" || evs[1].Target != "u1" {
		t.Fatalf("bulk events = %+v, want one per user", evs)
	}
}

func testUsersTenantDeleteCascades(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "gone")
	mustUser(t, s, tn.ID, "u1", "a@example.com", "super")
	g := mustGroup(t, s, tn.ID, "g1", "staff")
	if err := s.AddGroupMember(ctx, g.ID, "u1", ev("group.add_member", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRole(ctx, &store.Role{TenantID: tn.ID, Name: "auditor", Scopes: []string{"x:read"}}, ev("role.create", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, tn.ID, ev("tenant.delete", tn.ID)); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetUser(ctx, "u1")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetGroup(ctx, "g1")
	wantErr(t, err, store.ErrNotFound)
	if roles, err := s.ListRoles(ctx, tn.ID); err != nil || len(roles) != 0 {
		t.Fatalf("roles after tenant delete: %v, %v", roles, err)
	}
	// A tenant of the same name later starts empty.
	tn2 := &store.Tenant{ID: "t_new", Name: "gone", CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateTenant(ctx, tn2, ev("tenant.create", tn2.ID)); err != nil {
		t.Fatal(err)
	}
	mustUser(t, s, tn2.ID, "u1", "a@example.com")
	u := &store.User{ID: "u9", TenantID: tn.ID, Email: "x@example.com", CreatedAt: now(), UpdatedAt: now()}
	wantErr(t, s.CreateUser(ctx, u, ev("user.create", tn.ID)), store.ErrNotFound)
}

func testGroups(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	mustUser(t, s, a.ID, "u1", "a@example.com")
	mustUser(t, s, a.ID, "u2", "b@example.com")
	mustUser(t, s, b.ID, "u3", "c@example.com")
	g1 := mustGroup(t, s, a.ID, "g1", "staff")
	mustGroup(t, s, a.ID, "g2", "interns")
	mustGroup(t, s, b.ID, "g3", "staff") // names are unique per tenant only
	dup := &store.Group{ID: "g4", TenantID: a.ID, Name: "staff", CreatedAt: now(), UpdatedAt: now()}
	wantErr(t, s.CreateGroup(ctx, dup, ev("group.create", a.ID)), store.ErrConflict)

	for range 2 { // idempotent, one event
		if err := s.AddGroupMember(ctx, g1.ID, "u1", ev("group.add_member", a.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: a.ID, Action: "group.add_member"}); len(evs) != 1 {
		t.Fatalf("%d add_member events, want 1", len(evs))
	}
	if err := s.AddGroupMember(ctx, "g2", "u1", ev("group.add_member", a.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.AddGroupMember(ctx, g1.ID, "u3", ev("group.add_member", a.ID)), store.ErrNotFound) // another tenant's user
	wantErr(t, s.AddGroupMember(ctx, "nope", "u1", ev("group.add_member", a.ID)), store.ErrNotFound)
	wantErr(t, s.AddGroupMember(ctx, g1.ID, "nope", ev("group.add_member", a.ID)), store.ErrNotFound)

	if u, _ := s.GetUser(ctx, "u1"); fmt.Sprint(u.Groups) != "[g1 g2]" {
		t.Fatalf("u1 groups = %v", u.Groups)
	}
	if gs, err := s.ListUserGroups(ctx, "u1"); err != nil || len(gs) != 2 || gs[0].Name != "staff" {
		t.Fatalf("ListUserGroups = %+v, %v", gs, err)
	}
	if list, _ := s.ListUsers(ctx, a.ID, store.UserQuery{}); fmt.Sprint(list[0].Groups) != "[g1 g2]" || len(list[1].Groups) != 0 {
		t.Fatalf("ListUsers groups = %v / %v", list[0].Groups, list[1].Groups)
	}
	members, err := s.ListGroupMembers(ctx, g1.ID, store.Page{})
	if err != nil || fmt.Sprint(ids(members)) != "[u1]" {
		t.Fatalf("ListGroupMembers = %v, %v", ids(members), err)
	}

	up, err := s.UpdateGroup(ctx, g1.ID, func(g *store.Group) error { g.APIEnabled = true; return nil }, ev("group.update", a.ID))
	if err != nil || !up.APIEnabled || up.Name != "staff" {
		t.Fatalf("UpdateGroup = %+v, %v", up, err)
	}
	_, err = s.UpdateGroup(ctx, g1.ID, func(g *store.Group) error { g.Name = "interns"; return nil }, ev("group.update", a.ID))
	wantErr(t, err, store.ErrConflict)
	if got, _ := s.GetGroup(ctx, g1.ID); !got.APIEnabled || got.Name != "staff" {
		t.Fatalf("GetGroup = %+v", got)
	}
	if gs, err := s.ListGroups(ctx, a.ID, store.Page{Limit: 1}); err != nil || len(gs) != 1 || gs[0].ID != "g1" {
		t.Fatalf("ListGroups = %+v, %v", gs, err)
	}

	if err := s.RemoveGroupMember(ctx, g1.ID, "u1", ev("group.remove_member", a.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RemoveGroupMember(ctx, g1.ID, "u1", ev("group.remove_member", a.ID)), store.ErrNotFound)
	if err := s.DeleteGroup(ctx, "g2", ev("group.delete", a.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteGroup(ctx, "g2", ev("group.delete", a.ID)), store.ErrNotFound)
	if u, _ := s.GetUser(ctx, "u1"); len(u.Groups) != 0 {
		t.Fatalf("memberships outlived their group: %v", u.Groups)
	}
	// Deleting a user removes their memberships.
	if err := s.AddGroupMember(ctx, g1.ID, "u2", ev("group.add_member", a.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u2", ev("user.delete", a.ID)); err != nil {
		t.Fatal(err)
	}
	if members, _ := s.ListGroupMembers(ctx, g1.ID, store.Page{}); len(members) != 0 {
		t.Fatalf("members after user delete: %v", ids(members))
	}
}

func testRoles(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "globex")
	r := &store.Role{TenantID: a.ID, Name: "auditor", Scopes: []string{"submissions:read", "company:read"}}
	if err := s.CreateRole(ctx, r, ev("role.create", a.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CreateRole(ctx, r, ev("role.create", a.ID)), store.ErrConflict)
	if err := s.CreateRole(ctx, &store.Role{TenantID: b.ID, Name: "auditor"}, ev("role.create", b.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRole(ctx, &store.Role{TenantID: a.ID, Name: "a_ditor"}, ev("role.create", a.ID)); err != nil {
		t.Fatal(err)
	}
	roles, err := s.ListRoles(ctx, a.ID)
	if err != nil || len(roles) != 2 || roles[1].Name != "auditor" || fmt.Sprint(roles[1].Scopes) != "[submissions:read company:read]" || roles[0].Scopes == nil {
		t.Fatalf("ListRoles = %+v, %v", roles, err)
	}
	// A role someone holds cannot be deleted; one no one holds can.
	mustUser(t, s, a.ID, "u1", "a@example.com", "auditor")
	wantErr(t, s.DeleteRole(ctx, a.ID, "auditor", ev("role.delete", a.ID)), store.ErrConflict)
	if err := s.DeleteRole(ctx, a.ID, "a_ditor", ev("role.delete", a.ID)); err != nil {
		t.Fatal(err) // "a_ditor" as a LIKE pattern matches u1's "auditor"; it must not count
	}
	if err := s.DeleteRole(ctx, b.ID, "auditor", ev("role.delete", b.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteRole(ctx, b.ID, "auditor", ev("role.delete", b.ID)), store.ErrNotFound)
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: a.ID, Action: "role.delete"}); len(evs) != 1 {
		t.Fatalf("%d role.delete events, want 1", len(evs))
	}
}

// The last holder of super cannot lose it or be deleted; once another user
// holds it, either can.
func testLastSuper(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustUser(t, s, tn.ID, "u1", "a@example.com", "super")
	mustUser(t, s, tn.ID, "u2", "b@example.com", "program_admin")
	other := mustTenant(t, s, "globex")
	mustUser(t, s, other.ID, "u3", "c@example.com", "super") // another tenant's super does not count

	drop := func(u *store.User) error {
		u.Roles = slices.DeleteFunc(u.Roles, func(r string) bool { return r == store.RoleSuper })
		return nil
	}
	_, err := s.UpdateUser(ctx, "u1", drop, ev("user.update", tn.ID))
	wantErr(t, err, store.ErrLastSuper)
	wantErr(t, s.DeleteUser(ctx, "u1", ev("user.delete", tn.ID)), store.ErrLastSuper)
	if u, _ := s.GetUser(ctx, "u1"); !slices.Contains(u.Roles, store.RoleSuper) {
		t.Fatal("super removed from the last holder")
	}
	// Other changes to the last super are fine.
	if _, err := s.UpdateUser(ctx, "u1", func(u *store.User) error { u.Name = "still super"; return nil }, ev("user.update", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, "u2", func(u *store.User) error { u.Roles = append(u.Roles, store.RoleSuper); return nil }, ev("user.update", tn.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, "u1", drop, ev("user.update", tn.ID)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteUser(ctx, "u2", ev("user.delete", tn.ID)), store.ErrLastSuper)
	if evs, _ := s.ListEvents(ctx, store.EventQuery{TenantID: tn.ID, Action: "user.delete"}); len(evs) != 0 {
		t.Fatalf("refused deletes left %d events", len(evs))
	}
}

// Two admins each removing super from one of the last two holders at
// once: exactly one wins, on every backend.
func testLastSuperConcurrent(t *testing.T, s store.Store) {
	drop := func(u *store.User) error {
		u.Roles = slices.DeleteFunc(u.Roles, func(r string) bool { return r == store.RoleSuper })
		return nil
	}
	for round := range 6 {
		tn := mustTenant(t, s, fmt.Sprintf("acme%d", round))
		a, b := tn.ID+"_a", tn.ID+"_b"
		mustUser(t, s, tn.ID, a, "a@example.com", "super")
		mustUser(t, s, tn.ID, b, "b@example.com", "super", "company_admin")
		mustUser(t, s, tn.ID, tn.ID+"_c", "c@example.com", "company_admin")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if round%2 == 1 && i == 1 { // odd rounds: one removes the role, the other deletes the user
					errs[i] = s.DeleteUser(ctx, id, ev("user.delete", tn.ID))
					return
				}
				_, errs[i] = s.UpdateUser(ctx, id, drop, ev("user.update", tn.ID))
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrLastSuper):
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of 2 concurrent super removals succeeded (%v), want exactly 1", round, won, errs)
		}
		supers := 0
		users, _ := s.ListUsers(ctx, tn.ID, store.UserQuery{})
		for _, u := range users {
			if slices.Contains(u.Roles, store.RoleSuper) {
				supers++
			}
		}
		if supers != 1 {
			t.Fatalf("round %d: %d super users left, want 1", round, supers)
		}
	}
}
