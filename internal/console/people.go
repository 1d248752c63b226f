package console

import (
	"context"
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// adminScope is what a user needs for Security > Users / Groups.
const adminScope = "users:write"

var errNotAdmin = &protocol.Error{Code: "access_denied", Status: http.StatusForbidden,
	Description: "This page is for administrators (a role that grants users:write)."}

// admin runs fn only for a caller whose roles grant adminScope; the roles
// are read on every request, so a role taken away takes effect at once.
func (h *Handler) admin(fn pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if !c.admin {
			return errNotAdmin
		}
		return fn(w, r, c)
	}
}

// userRow is a user as Security > Users shows it.
type userRow struct {
	ID, Email, Name string
	Roles           string
	APIEnabled      bool
	APIAccess       bool // the rule's outcome (super, user or a group)
}

// groupRow is a group as Security > Groups shows it.
type groupRow struct {
	ID, Name   string
	APIEnabled bool
}

const pageSize = 50

// usersPage is Security > Users: search by email or name prefix, pages of
// 50, and "Enable Public API" / "Disable Public API" for the ticked users.
func (h *Handler) usersPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := h.usersView(r.Context(), c, r.URL.Query().Get("q"), r.URL.Query().Get("after"))
	if err != nil {
		return err
	}
	if n := r.URL.Query().Get("changed"); n != "" {
		v.Message = "Public API access changed for " + n + "."
	}
	h.render(w, r, http.StatusOK, "users", v)
	return nil
}

func (h *Handler) usersView(ctx context.Context, c *caller, q, after string) (view, error) {
	q = strings.TrimSpace(q)
	if len(q) > 254 {
		q = q[:254]
	}
	list, err := h.Users.List(ctx, c.tenant.ID, q, store.Page{After: after, Limit: pageSize})
	if err != nil {
		return view{}, err
	}
	v := c.view("Users")
	v.Query = q
	for i := range list {
		u := &list[i]
		access, err := h.Users.HasAPIAccess(ctx, u)
		if err != nil {
			return view{}, err
		}
		v.Users = append(v.Users, userRow{ID: u.ID, Email: u.Email, Name: u.Name, Roles: strings.Join(u.Roles, ", "),
			APIEnabled: u.APIEnabled, APIAccess: access})
	}
	if len(list) == pageSize {
		v.NextAfter = list[len(list)-1].ID
	}
	return v, nil
}

// setUsersAPI turns api_enabled on or off for the ticked users, all or
// none, and tells the tenant's webhook.
func (h *Handler) setUsersAPI(w http.ResponseWriter, r *http.Request, c *caller) error {
	ids := r.PostForm["user"]
	enabled := r.PostForm.Get("api") == "enable"
	if len(ids) == 0 {
		return &protocol.Error{Code: "invalid_request", Status: http.StatusBadRequest, Description: "Tick at least one user."}
	}
	action := audit.UserDisableAPI
	if enabled {
		action = audit.UserEnableAPI
	}
	if err := h.Users.SetAPIEnabled(r.Context(), c.tenant.ID, ids, enabled, h.event(r, c, action, "")); err != nil {
		return err
	}
	h.notifyAccess(r, c, ids, enabled)
	http.Redirect(w, r, c.path("users?changed="+plural(len(ids), "user")), http.StatusSeeOther)
	return nil
}

// groupsPage is Security > Groups, with "Enable Public API" for the ticked
// groups (every member gets access).
func (h *Handler) groupsPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	list, err := h.Users.Store.ListGroups(r.Context(), c.tenant.ID, store.Page{After: r.URL.Query().Get("after"), Limit: pageSize})
	if err != nil {
		return err
	}
	v := c.view("Groups")
	for _, g := range list {
		v.Groups = append(v.Groups, groupRow{ID: g.ID, Name: g.Name, APIEnabled: g.APIEnabled})
	}
	if len(list) == pageSize {
		v.NextAfter = list[len(list)-1].ID
	}
	if n := r.URL.Query().Get("changed"); n != "" {
		v.Message = "Public API access changed for " + n + "."
	}
	h.render(w, r, http.StatusOK, "groups", v)
	return nil
}

func (h *Handler) setGroupsAPI(w http.ResponseWriter, r *http.Request, c *caller) error {
	ids := r.PostForm["group"]
	enabled := r.PostForm.Get("api") == "enable"
	if len(ids) == 0 || len(ids) > users.MaxBulk {
		return &protocol.Error{Code: "invalid_request", Status: http.StatusBadRequest, Description: "Tick one or more groups."}
	}
	for _, id := range ids {
		if _, err := h.Users.UpdateGroup(r.Context(), c.tenant.ID, id, &users.GroupPatch{APIEnabled: &enabled},
			h.event(r, c, audit.GroupUpdate, id)); err != nil {
			return err
		}
	}
	http.Redirect(w, r, c.path("groups?changed="+plural(len(ids), "group")), http.StatusSeeOther)
	return nil
}

// notifyAccess tells the tenant's webhook that users' API access changed
// (the change is made: a failure to queue is logged, and a caller hanging
// up does not lose the notice).
func (h *Handler) notifyAccess(r *http.Request, c *caller, ids []string, enabled bool) {
	if h.Webhooks == nil {
		return
	}
	data := webhook.APIAccessChanged{UserIDs: ids, Enabled: enabled}
	if err := h.Webhooks.Enqueue(context.WithoutCancel(r.Context()), c.tenant.ID, webhook.TypeAPIAccessChanged, "", data); err != nil {
		h.Log.Warn("console: api access notice not queued", "err", err)
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return itoa(n) + " " + what + "s"
}
