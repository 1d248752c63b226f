package console

import (
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/pats"
	"github.com/gatehouse/gatehouse/internal/store"
)

// tokenRow is one personal access token as the pages show it.
type tokenRow struct {
	ID, Name, Prefix, Status string
	Created, Expires         time.Time // Expires zero: never
	LastUsed                 time.Time
	LastUsedIP               string
	Token                    string // only right after creation
}

func row(p *store.PAT, now time.Time) tokenRow {
	return tokenRow{ID: p.ID, Name: p.Name, Prefix: p.Prefix, Status: p.Status(now), Created: p.CreatedAt, Expires: p.ExpiresAt,
		LastUsed: p.LastUsedAt, LastUsedIP: p.LastUsedIP}
}

// tokens is Profile > Security > API Tokens: the user's live tokens and the
// form that creates one.
func (h *Handler) tokens(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := h.tokensView(r, c)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("revoked") != "" {
		v.Message = "The token was revoked."
	}
	h.render(w, r, http.StatusOK, "tokens", v)
	return nil
}

func (h *Handler) tokensView(r *http.Request, c *caller) (view, error) {
	list, err := h.PATs.List(r.Context(), c.tenant.ID, c.user.ID, false)
	if err != nil {
		return view{}, err
	}
	now := h.Now()
	v := c.view("API tokens")
	v.Limit = c.tenant.Settings.PATMaxActive
	if v.Limit == 0 {
		v.Limit = store.DefaultPATMaxActive
	}
	for i := range list {
		v.Tokens = append(v.Tokens, row(&list[i], now))
	}
	return v, nil
}

// createToken makes a token and shows it this once, on the response to the
// POST (never in a URL, never cached). A refusal shows the form again with
// the reason.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	made, status, problem, err := h.create(r, c)
	if err != nil {
		return err
	}
	v, err := h.tokensView(r, c)
	if err != nil {
		return err
	}
	if made != nil {
		created := row(made.PAT, h.Now())
		created.Token = made.Token
		v.Created = &created
	}
	v.Error = problem
	h.render(w, r, status, "tokens", v)
	return nil
}

// create makes the token the form asks for, or says why not (status and
// problem); err is for failures that are not the user's.
func (h *Handler) create(r *http.Request, c *caller) (made *pats.Created, status int, problem string, err error) {
	if c.tenant.Settings.OAuthMode() {
		return nil, http.StatusConflict, "This tenant's users call the API with its identity provider's tokens: personal access tokens are turned off.", nil
	}
	expiry := r.PostForm.Get("expiry")
	if expiry == "date" {
		expiry = r.PostForm.Get("date")
	}
	exp, err := pats.ParseExpiry(expiry)
	if err != nil {
		return nil, http.StatusBadRequest, "Choose an expiry: 7, 30 or 90 days, a date, or never.", nil
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	made, err = h.PATs.Create(r.Context(), c.tenant.ID, c.user.ID, name, exp, nil, h.event(r, c, audit.PATCreate, ""))
	if err == nil {
		return made, http.StatusOK, "", nil
	}
	if status, msg, ok := refusal(err); ok {
		return nil, status, msg, nil
	}
	return nil, 0, "", err
}

// confirmRevoke asks "Revoke this token?" (works without JavaScript).
func (h *Handler) confirmRevoke(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := h.ownToken(r, c)
	if err != nil {
		return err
	}
	v := c.view("Revoke token")
	v.Token = t
	h.render(w, r, http.StatusOK, "revoke", v)
	return nil
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	if _, err := h.PATs.Revoke(r.Context(), c.tenant.ID, c.user.ID, id, h.event(r, c, audit.PATRevoke, id)); err != nil {
		return err
	}
	http.Redirect(w, r, c.path("tokens?revoked=1"), http.StatusSeeOther)
	return nil
}

// ownToken is a live token of the caller's, by the path's id.
func (h *Handler) ownToken(r *http.Request, c *caller) (*tokenRow, error) {
	list, err := h.PATs.List(r.Context(), c.tenant.ID, c.user.ID, false)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].ID == r.PathValue("id") {
			t := row(&list[i], h.Now())
			return &t, nil
		}
	}
	return nil, store.ErrNotFound
}
