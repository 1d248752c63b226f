package console

import (
	"errors"
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

// choice is a checkbox on the user page.
type choice struct {
	Value, Label string
	Checked      bool
}

// userPage is Security > Users > a user: roles, Public API, groups.
func (h *Handler) userPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := h.Users.Get(r.Context(), c.tenant.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := h.userView(r, c, u)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("saved") != "" {
		v.Message = "Saved."
	}
	h.render(w, r, http.StatusOK, "user", v)
	return nil
}

func (h *Handler) userView(r *http.Request, c *caller, u *store.User) (view, error) {
	ctx := r.Context()
	v := c.view(u.Email)
	roles, err := h.Users.Roles(ctx, c.tenant.ID)
	if err != nil {
		return v, err
	}
	for _, ro := range roles {
		v.RoleChoices = append(v.RoleChoices, choice{ro.Name, ro.Name + " — " + strings.Join(ro.Scopes, " "), slices.Contains(u.Roles, ro.Name)})
	}
	groups, err := h.Users.Store.ListGroups(ctx, c.tenant.ID, store.Page{Limit: 500})
	if err != nil {
		return v, err
	}
	for _, g := range groups {
		v.GroupChoices = append(v.GroupChoices, choice{g.ID, g.Name, slices.Contains(u.Groups, g.ID)})
	}
	v.Subject = &userRow{ID: u.ID, Email: u.Email, Name: u.Name, APIEnabled: u.APIEnabled}
	return v, nil
}

// saveUser sets the user's roles and Public API flag in one change (the
// last-super rule checked in it), then brings group memberships in line.
func (h *Handler) saveUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	u, err := h.Users.Get(ctx, c.tenant.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	roles := r.PostForm["role"]
	if roles == nil {
		roles = []string{}
	}
	api := r.PostForm.Get("api_enabled") == "on"
	if slices.Contains(u.Roles, users.RoleSuper) != slices.Contains(roles, users.RoleSuper) && !slices.Contains(c.user.Roles, users.RoleSuper) {
		return h.userProblem(w, r, c, u, "Only a super user can grant or take away the super role.")
	}
	// Nobody hands out more than they have: a role given here grants
	// nothing the administrator's own roles do not.
	var added []string
	for _, ro := range roles {
		if !slices.Contains(u.Roles, ro) {
			added = append(added, ro)
		}
	}
	if err := h.Users.MayGrantRoles(ctx, c.grantor(), c.tenant.ID, added); err != nil {
		var beyond *users.ErrBeyondGrantor
		if errors.As(err, &beyond) {
			return h.userProblem(w, r, c, u, "Not allowed: "+beyond.Error()+".")
		}
		return err
	}
	updated, err := h.Users.Update(ctx, c.tenant.ID, u.ID, &users.Patch{Roles: &roles, APIEnabled: &api}, h.event(r, c, audit.UserUpdate, u.ID))
	var inv *users.InvalidError
	switch {
	case errors.Is(err, users.ErrLastSuper):
		return h.userProblem(w, r, c, u, "The tenant's last super user cannot lose the role: give another user super first.")
	case errors.As(err, &inv):
		return h.userProblem(w, r, c, u, strings.Join(inv.Problems, "; "))
	case err != nil:
		return err
	}
	all, err := h.groupIDs(r, c)
	if err != nil {
		return err
	}
	want := r.PostForm["group"]
	for _, g := range all {
		in, wanted := slices.Contains(updated.Groups, g), slices.Contains(want, g)
		switch {
		case wanted && !in:
			err = h.Users.AddMember(ctx, c.tenant.ID, g, u.ID, h.event(r, c, audit.GroupAddMember, g))
		case in && !wanted:
			err = h.Users.RemoveMember(ctx, c.tenant.ID, g, u.ID, h.event(r, c, audit.GroupRemoveMember, g))
		}
		if err != nil {
			return err
		}
	}
	if updated.APIEnabled != u.APIEnabled {
		h.notifyAccess(r, c, []string{u.ID}, updated.APIEnabled)
	}
	http.Redirect(w, r, c.path("users/"+u.ID+"?saved=1"), http.StatusSeeOther)
	return nil
}

// groupIDs are the tenant's groups (the form lists the same).
func (h *Handler) groupIDs(r *http.Request, c *caller) ([]string, error) {
	groups, err := h.Users.Store.ListGroups(r.Context(), c.tenant.ID, store.Page{Limit: 500})
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	return ids, err
}

func (h *Handler) userProblem(w http.ResponseWriter, r *http.Request, c *caller, u *store.User, problem string) error {
	v, err := h.userView(r, c, u)
	if err != nil {
		return err
	}
	v.Error = problem
	h.render(w, r, http.StatusConflict, "user", v)
	return nil
}
