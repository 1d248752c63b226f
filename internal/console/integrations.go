package console

import (
	"cmp"
	"context"
	"errors"
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

// integrationRow is a client as Admin > Integrations shows it.
type integrationRow struct {
	ID, Name                string
	APIConfiguration        bool // authorization_code: users authorize it
	Grants, Redirects       string
	Scopes                  string
	Created, LastUsed       time.Time
	TokensIssued, Requests  int64
	Secret                  string // only right after creation or rotation
	PreviousSecretExpiresAt time.Time
}

func integrationOf(c *store.Client) integrationRow {
	return integrationRow{ID: c.ID, Name: c.Name, APIConfiguration: slices.Contains(c.Grants, store.GrantAuthorizationCode),
		Grants: strings.Join(c.Grants, ", "), Redirects: strings.Join(c.RedirectURIs, " "), Scopes: strings.Join(c.Scopes, " "),
		Created: c.CreatedAt, LastUsed: c.LastUsedAt, TokensIssued: c.TokensIssued, Requests: c.GatewayRequests}
}

// integrationsPage is Admin > Integrations: the tenant's clients, and the
// form that creates an API configuration (users authorize it; a redirect
// URL) or a machine client (client credentials).
func (h *Handler) integrationsPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := h.integrationsView(r.Context(), c)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("deleted") != "" {
		v.Message = "The integration was deleted; its tokens no longer work."
	}
	h.render(w, r, http.StatusOK, "integrations", v)
	return nil
}

func (h *Handler) integrationsView(ctx context.Context, c *caller) (view, error) {
	v := c.view("Integrations")
	v.OneIntegration = c.tenant.Settings.OneActiveIntegration
	list, err := h.Clients.ListClients(ctx, c.tenant.ID, store.Page{Limit: 500})
	if err != nil {
		return v, err
	}
	for i := range list {
		v.Integrations = append(v.Integrations, integrationOf(&list[i]))
	}
	return v, nil
}

// createIntegration makes the client and shows its id and secret once. An
// API configuration belongs to the administrator who made it, who alone
// may authorize it (Intigriti: "the user who ran the wizard"). Nobody
// hands out more than they have: the client's scopes must be ones the
// operator lets the tenant hand out and the administrator's own roles
// grant; its audiences ones the operator allows the tenant.
func (h *Handler) createIntegration(w http.ResponseWriter, r *http.Request, c *caller) error {
	f := r.PostForm
	cl := &store.Client{ID: secret.NewID("gc"), TenantID: c.tenant.ID, Name: strings.TrimSpace(f.Get("name")),
		Scopes: fields(f.Get("scopes")), Audiences: fields(f.Get("audiences"))}
	if f.Get("kind") == "api_configuration" {
		cl.Grants = []string{credential.GrantAuthorizationCode}
		cl.RedirectURIs = fields(f.Get("redirect_uri"))
		cl.OwnerUserID = c.user.ID
	} else {
		cl.Grants = []string{credential.GrantClientCredentials}
	}
	if err := h.mayHandOut(c, cl); err != nil {
		return h.integrationResult(w, r, c, nil, err)
	}
	plain, err := h.ClientService.Create(r.Context(), cl, h.event(r, c, audit.ClientCreate, cl.ID))
	if err != nil {
		return h.integrationResult(w, r, c, nil, err)
	}
	made := integrationOf(cl)
	made.Secret = plain
	return h.integrationResult(w, r, c, &made, nil)
}

// integrationResult shows the page again with a new secret (once) or with
// why the change was refused; other errors are the caller's to report.
func (h *Handler) integrationResult(w http.ResponseWriter, r *http.Request, c *caller, made *integrationRow, err error) error {
	status, problem := integrationProblem(err)
	if err != nil && problem == "" {
		return err
	}
	v, verr := h.integrationsView(r.Context(), c)
	if verr != nil {
		return verr
	}
	v.CreatedIntegration, v.Error = made, problem
	h.render(w, r, cmp.Or(status, http.StatusOK), "integrations", v)
	return nil
}

// mayHandOut checks a client's scopes and audiences against what the
// operator lets the tenant hand out and what the caller's roles grant
// (Gatehouse's own scopes, such as openid, need no role).
func (h *Handler) mayHandOut(c *caller, cl *store.Client) error {
	var routeScopes, routeAudiences []string
	if h.RouteGrants != nil {
		routeScopes, routeAudiences = h.RouteGrants()
	}
	scopes, audiences := tenants.HandOut(c.tenant, routeScopes, routeAudiences)
	if err := tenants.MayHandOut(cl.Scopes, cl.Audiences, scopes, audiences); err != nil {
		return err
	}
	return c.grantor().MayGrantScopes(slices.DeleteFunc(slices.Clone(cl.Scopes), credential.Own))
}

// integrationProblem turns a refusal into what the page says, or "".
func integrationProblem(err error) (int, string) {
	var one *store.OneIntegrationError
	switch {
	case errors.As(err, &one):
		return http.StatusConflict, "This tenant allows one active API configuration, and has one: delete it first."
	case errors.Is(err, clients.ErrTooManySecrets):
		return http.StatusConflict, "Two secrets are active: the previous one must expire (or be retired) before another rotation."
	}
	status, msg, _ := refusal(err)
	return status, msg
}

// fields splits a list typed with spaces, commas or new lines.
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// confirmIntegration asks before rotating a secret or deleting the client.
func (h *Handler) confirmIntegration(action string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		cl, err := h.ownClient(r, c)
		if err != nil {
			return err
		}
		row := integrationOf(cl)
		v := c.view(map[string]string{"rotate": "Rotate secret", "delete": "Delete integration"}[action])
		v.Integration, v.Action = &row, action
		h.render(w, r, http.StatusOK, "confirm-integration", v)
		return nil
	}
}

// rotateIntegration adds a new secret (shown once); the previous one keeps
// working for a day so that the integration can switch without downtime.
func (h *Handler) rotateIntegration(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := h.ownClient(r, c)
	if err != nil {
		return err
	}
	plain, updated, err := h.ClientService.Rotate(r.Context(), cl.ID, 24*time.Hour, h.event(r, c, audit.ClientRotateSecret, cl.ID))
	if err != nil {
		return h.integrationResult(w, r, c, nil, err)
	}
	row := integrationOf(updated)
	row.Secret, row.PreviousSecretExpiresAt = plain, h.Now().Add(24*time.Hour)
	return h.integrationResult(w, r, c, &row, nil)
}

func (h *Handler) deleteIntegration(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := h.ownClient(r, c)
	if err != nil {
		return err
	}
	if err := h.ClientService.Delete(r.Context(), cl.ID, h.event(r, c, audit.ClientDelete, cl.ID)); err != nil {
		return err
	}
	http.Redirect(w, r, c.path("integrations?deleted=1"), http.StatusSeeOther)
	return nil
}

// ownClient is the path's client, if it belongs to the caller's tenant.
func (h *Handler) ownClient(r *http.Request, c *caller) (*store.Client, error) {
	cl, err := h.Clients.GetClient(r.Context(), r.PathValue("id"))
	if err == nil && cl.TenantID != c.tenant.ID {
		err = store.ErrNotFound
	}
	return cl, err
}
