package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikeys"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Clients reads a tenant's clients.
type Clients interface {
	ListClients(ctx context.Context, tenantID string, page store.Page) ([]store.Client, error)
	GetClient(ctx context.Context, id string) (*store.Client, error)
	ClientUsageSince(ctx context.Context, tenantID string, since time.Time) ([]store.ClientUsage, error)
}

// keyRow is an API key as the page shows it.
type keyRow struct {
	ID, Name, Prefix, Status string
	BoundTo                  string
	Created, Expires         time.Time
	LastLogin                time.Time
	Key                      string // only right after creation
}

// option is a choice in a select.
type option struct{ Value, Label string }

// keysPage is Admin > API keys: the tenant's keys and the form that issues
// one, bound to a user or a client.
func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := h.keysView(r.Context(), c)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("revoked") != "" {
		v.Message = "The API key was revoked; its sessions have ended."
	}
	h.render(w, r, http.StatusOK, "keys", v)
	return nil
}

func (h *Handler) keysView(ctx context.Context, c *caller) (view, error) {
	v := c.view("API keys")
	us, err := h.Users.List(ctx, c.tenant.ID, "", store.Page{Limit: 500})
	if err != nil {
		return v, err
	}
	cs, err := h.Clients.ListClients(ctx, c.tenant.ID, store.Page{Limit: 500})
	if err != nil {
		return v, err
	}
	names := map[string]string{}
	for _, u := range us {
		names[u.ID] = u.Email
		v.Owners = append(v.Owners, option{"user:" + u.ID, "User " + u.Email})
	}
	for _, cl := range cs {
		names[cl.ID] = cl.Name
		v.Owners = append(v.Owners, option{"client:" + cl.ID, "Client " + cl.Name})
	}
	ks, err := h.APIKeys.List(ctx, c.tenant.ID)
	if err != nil {
		return v, err
	}
	now := h.Now()
	for i := range ks {
		v.Keys = append(v.Keys, keyOf(&ks[i], names, now))
	}
	return v, nil
}

func keyOf(k *store.APIKey, names map[string]string, now time.Time) keyRow {
	bound := "user " + names[k.UserID]
	if k.ClientID != "" {
		bound = "client " + names[k.ClientID]
	}
	return keyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Status: k.Status(now), BoundTo: bound, Created: k.CreatedAt,
		Expires: k.ExpiresAt, LastLogin: k.LastLoginAt}
}

// createKey issues a key and shows it once, on the POST's response.
func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	in := apikeys.Input{Name: r.PostForm.Get("name"), By: c.grantor()}
	kind, id, _ := strings.Cut(r.PostForm.Get("owner"), ":")
	switch kind {
	case "user":
		in.UserID = id
	case "client":
		in.ClientID = id
	}
	status, problem := http.StatusOK, ""
	if d := r.PostForm.Get("expires"); d != "" {
		day, err := time.Parse("2006-01-02", d)
		if err != nil {
			status, problem = http.StatusBadRequest, "The expiry must be a date."
		}
		in.ExpiresAt = protocol.Earlier(day.Add(24*time.Hour), protocol.MaxTime) // through the end of that day (UTC)
	}
	var made *keyRow
	if problem == "" {
		k, raw, err := h.APIKeys.Create(r.Context(), c.tenant, in, h.event(r, c, "", ""))
		st, msg, refused := refusal(err)
		switch {
		case errors.Is(err, store.ErrNotFound):
			status, problem = http.StatusBadRequest, "Choose a user or a client of this tenant."
		case refused:
			status, problem = st, msg
		case err != nil:
			return err
		default:
			row := keyOf(k, map[string]string{}, h.Now())
			row.Key = raw
			made = &row
		}
	}
	v, err := h.keysView(r.Context(), c)
	if err != nil {
		return err
	}
	v.CreatedKey, v.Error = made, problem
	h.render(w, r, status, "keys", v)
	return nil
}

// confirmRevokeKey asks before revoking an API key.
func (h *Handler) confirmRevokeKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := h.keysView(r.Context(), c)
	if err != nil {
		return err
	}
	for i := range v.Keys {
		if k := v.Keys[i]; k.ID == r.PathValue("id") && k.Status == store.PATActive {
			v.Title, v.Key = "Revoke API key", &k
			h.render(w, r, http.StatusOK, "revoke-key", v)
			return nil
		}
	}
	return store.ErrNotFound
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	if _, err := h.APIKeys.Revoke(r.Context(), c.tenant.ID, r.PathValue("id"), h.event(r, c, "", "")); err != nil {
		return err
	}
	http.Redirect(w, r, c.path("keys?revoked=1"), http.StatusSeeOther)
	return nil
}
