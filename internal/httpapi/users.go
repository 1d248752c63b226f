package httpapi

import (
	"context"
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/webhook"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// userJSON renders a user without its password hash, with the outcome of
// the API-access rule.
func (a *API) userJSON(r *http.Request, u *store.User, tenant string) (admin.User, error) {
	access, err := a.Users.HasAPIAccess(r.Context(), u)
	if err != nil {
		return admin.User{}, err
	}
	out := admin.User{ID: u.ID, Tenant: tenant, Email: u.Email, Name: u.Name, Roles: u.Roles, APIEnabled: u.APIEnabled,
		APIAccess: access, HasPassword: u.PasswordHash != "", Groups: u.Groups, RateLimits: rateLimitsJSON(u.RateLimits),
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if !u.LastLoginAt.IsZero() {
		t := u.LastLoginAt
		out.LastLoginAt = &t
	}
	for _, l := range []*[]string{&out.Roles, &out.Groups} {
		if *l == nil {
			*l = []string{}
		}
	}
	return out, nil
}

func (a *API) usersJSON(r *http.Request, us []store.User, tenant string) ([]admin.User, error) {
	out := make([]admin.User, len(us))
	for i := range us {
		var err error
		if out[i], err = a.userJSON(r, &us[i], tenant); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func groupJSON(g *store.Group, tenant string) admin.Group {
	return admin.Group{ID: g.ID, Tenant: tenant, Name: g.Name, APIEnabled: g.APIEnabled, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

// pathID reads an id from the path; one that cannot be an id is "not
// found" without a lookup.
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !clients.ValidID(id) {
		return "", store.ErrNotFound
	}
	return id, nil
}

// user finds the user named in the path within the tenant named in it.
func (a *API) user(r *http.Request) (*store.Tenant, *store.User, error) {
	t, err := a.tenant(r)
	if err != nil {
		return nil, nil, err
	}
	id, err := pathID(r, "user")
	if err != nil {
		return nil, nil, err
	}
	u, err := a.Users.Get(r.Context(), t.ID, id)
	return t, u, err
}

func userPatch(in *admin.UserInput) *users.Patch {
	p := &users.Patch{Email: in.Email, Name: in.Name, Password: in.Password, Roles: in.Roles, APIEnabled: in.APIEnabled}
	if rl := in.RateLimits; rl != nil {
		p.ReadLimit, p.WriteLimit = quotaPtr(rl.Read), quotaPtr(rl.Write)
	}
	return p
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query().Get("q")
	if len(q) > users.MaxEmail || !protocol.Printable(q) {
		return protocol.ErrInvalidRequest.WithDescription("q must be printable text of at most 254 bytes")
	}
	us, err := a.Users.List(r.Context(), t.ID, q, p)
	if err != nil {
		return err
	}
	out, err := a.usersJSON(r, us, t.Name)
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, newList(out, p.Limit, func(u admin.User) string { return u.ID }))
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	var in admin.UserInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.Users.Create(r.Context(), t.ID, userPatch(&in), a.event(r, t.ID, audit.UserCreate, ""))
	if err != nil {
		return err
	}
	out, err := a.userJSON(r, u, t.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+t.Name+"/users/"+u.ID)
	protocol.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusOK, u, t.Name)
}

func (a *API) writeUser(w http.ResponseWriter, r *http.Request, status int, u *store.User, tenant string) error {
	out, err := a.userJSON(r, u, tenant)
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, status, out)
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	var in admin.UserInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	ev := a.event(r, t.ID, audit.UserUpdate, u.ID)
	if in.Password != nil {
		ev.Detail = map[string]any{"password": "changed"} // never the value
	}
	was := u.APIEnabled
	if u, err = a.Users.Update(r.Context(), t.ID, u.ID, userPatch(&in), ev); err != nil {
		return err
	}
	if u.APIEnabled != was {
		a.notifyAPIAccess(r, t.ID, []string{u.ID}, u.APIEnabled)
	}
	return a.writeUser(w, r, http.StatusOK, u, t.Name)
}

// notifyAPIAccess tells the tenant's webhook that users' api_enabled
// changed (so that the platform can email them, as the Incorta docs
// promise). The change is made; a failure to queue is only logged.
func (a *API) notifyAPIAccess(r *http.Request, tenantID string, ids []string, enabled bool) {
	if a.Webhooks == nil {
		return
	}
	// The change is made: a caller hanging up now must not lose its notice.
	err := a.Webhooks.Enqueue(context.WithoutCancel(r.Context()), tenantID, webhook.TypeAPIAccessChanged, "", webhook.APIAccessChanged{UserIDs: ids, Enabled: enabled})
	if err != nil {
		a.Log.Warn("api access changed: webhook not queued", "tenant", tenantID, "err", err)
	}
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	if err := a.Users.Delete(r.Context(), t.ID, u.ID, a.event(r, t.ID, audit.UserDelete, u.ID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setAPIAccess serves the bulk change: every listed user or none.
func (a *API) setAPIAccess(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	var in admin.APIAccessInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return protocol.ErrInvalidRequest.WithDescription("enabled (true or false) is required")
	}
	for _, id := range in.UserIDs {
		if !clients.ValidID(id) {
			return &store.NotFoundError{Kind: "user", ID: protocol.Clean(id, 128)}
		}
	}
	action := audit.UserDisableAPI
	if *in.Enabled {
		action = audit.UserEnableAPI
	}
	if err := a.Users.SetAPIEnabled(r.Context(), t.ID, in.UserIDs, *in.Enabled, a.event(r, t.ID, action, "")); err != nil {
		return err
	}
	a.notifyAPIAccess(r, t.ID, in.UserIDs, *in.Enabled)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// group finds the group named in the path within the tenant named in it.
func (a *API) group(r *http.Request) (*store.Tenant, *store.Group, error) {
	t, err := a.tenant(r)
	if err != nil {
		return nil, nil, err
	}
	id, err := pathID(r, "group")
	if err != nil {
		return nil, nil, err
	}
	g, err := a.Users.GetGroup(r.Context(), t.ID, id)
	return t, g, err
}

func groupPatch(in *admin.GroupInput) *users.GroupPatch {
	return &users.GroupPatch{Name: in.Name, APIEnabled: in.APIEnabled}
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	gs, err := a.Store.ListGroups(r.Context(), t.ID, p)
	if err != nil {
		return err
	}
	out := make([]admin.Group, len(gs))
	for i := range gs {
		out[i] = groupJSON(&gs[i], t.Name)
	}
	protocol.WriteJSON(w, http.StatusOK, newList(out, p.Limit, func(g admin.Group) string { return g.ID }))
	return nil
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	var in admin.GroupInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	g, err := a.Users.CreateGroup(r.Context(), t.ID, groupPatch(&in), a.event(r, t.ID, audit.GroupCreate, ""))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+t.Name+"/groups/"+g.ID)
	protocol.WriteJSON(w, http.StatusCreated, groupJSON(g, t.Name))
	return nil
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	t, g, err := a.group(r)
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, groupJSON(g, t.Name))
	return nil
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request) error {
	var in admin.GroupInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t, g, err := a.group(r)
	if err != nil {
		return err
	}
	if g, err = a.Users.UpdateGroup(r.Context(), t.ID, g.ID, groupPatch(&in), a.event(r, t.ID, audit.GroupUpdate, g.ID)); err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, groupJSON(g, t.Name))
	return nil
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	t, g, err := a.group(r)
	if err != nil {
		return err
	}
	if err := a.Users.DeleteGroup(r.Context(), t.ID, g.ID, a.event(r, t.ID, audit.GroupDelete, g.ID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	t, g, err := a.group(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	us, err := a.Store.ListGroupMembers(r.Context(), g.ID, p)
	if err != nil {
		return err
	}
	out, err := a.usersJSON(r, us, t.Name)
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, newList(out, p.Limit, func(u admin.User) string { return u.ID }))
	return nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	return a.changeMember(w, r, audit.GroupAddMember, a.Users.AddMember)
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request) error {
	return a.changeMember(w, r, audit.GroupRemoveMember, a.Users.RemoveMember)
}

func (a *API) changeMember(w http.ResponseWriter, r *http.Request, action store.Action,
	change func(ctx context.Context, tenantID, groupID, userID string, ev store.Event) error) error {
	t, g, err := a.group(r)
	if err != nil {
		return err
	}
	uid, err := pathID(r, "user")
	if err != nil {
		return err
	}
	if err := change(r.Context(), t.ID, g.ID, uid, a.event(r, t.ID, action, g.ID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func roleJSON(r users.RoleInfo) admin.Role {
	scopes := r.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return admin.Role{Name: r.Name, Scopes: scopes, Preset: r.Preset}
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	roles, err := a.Users.Roles(r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := make([]admin.Role, len(roles))
	for i, ri := range roles {
		out[i] = roleJSON(ri)
	}
	protocol.WriteJSON(w, http.StatusOK, admin.List[admin.Role]{Items: out})
	return nil
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	var in admin.RoleInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	role := &store.Role{TenantID: t.ID, Name: in.Name, Scopes: in.Scopes}
	if err := a.Users.CreateRole(r.Context(), role, a.event(r, t.ID, audit.RoleCreate, "")); err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+t.Name+"/roles/"+role.Name)
	protocol.WriteJSON(w, http.StatusCreated, roleJSON(users.RoleInfo{Name: role.Name, Scopes: role.Scopes}))
	return nil
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	if err := a.Users.DeleteRole(r.Context(), t.ID, r.PathValue("role"), a.event(r, t.ID, audit.RoleDelete, "")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
