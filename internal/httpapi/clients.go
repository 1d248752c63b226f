package httpapi

import (
	"context"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

func clientJSON(c *store.Client, tenant string, granted []string) admin.Client {
	out := admin.Client{
		ClientID: c.ID, Tenant: tenant, Name: c.Name, Grants: c.Grants, Scopes: c.Scopes, Audiences: c.Audiences,
		RedirectURIs: c.RedirectURIs, AccessTokenTTL: int64(c.AccessTokenTTL / time.Second), TokenFormat: c.TokenFormat,
		IssueQuota: quotaJSON(c.IssueQuota), RateLimits: rateLimitsJSON(c.RateLimits),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, TokensIssued: c.TokensIssued, GatewayRequests: c.GatewayRequests, GrantedTenants: granted,
		OwnerUserID: c.OwnerUserID,
	}
	if !c.LastUsedAt.IsZero() {
		t := c.LastUsedAt
		out.LastUsedAt = &t
	}
	for _, s := range c.Secrets {
		out.Secrets = append(out.Secrets, admin.SecretInfo{ID: s.ID, Hint: s.Hint, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	for _, l := range []*[]string{&out.Grants, &out.Scopes, &out.Audiences, &out.RedirectURIs, &out.GrantedTenants} {
		if *l == nil {
			*l = []string{}
		}
	}
	return out
}

// client finds the client named in the path within the tenant named in it;
// a client of another tenant is "not found".
func (a *API) client(r *http.Request) (*store.Tenant, *store.Client, error) {
	t, err := a.tenant(r)
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("client")
	if !clients.ValidID(id) {
		return nil, nil, store.ErrNotFound
	}
	c, err := a.Store.GetClient(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	if c.TenantID != t.ID {
		return nil, nil, store.ErrNotFound
	}
	return t, c, nil
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	cs, err := a.Store.ListClients(r.Context(), t.ID, p)
	if err != nil {
		return err
	}
	out := make([]admin.Client, len(cs))
	for i := range cs {
		out[i] = a.render(r, &cs[i], t.Name)
	}
	protocol.WriteJSON(w, http.StatusOK, newList(out, p.Limit, func(c admin.Client) string { return c.ClientID }))
	return nil
}

func clientPatch(in *admin.ClientInput) *clients.Patch {
	p := &clients.Patch{Name: in.Name, Grants: in.Grants, Scopes: in.Scopes, Audiences: in.Audiences,
		RedirectURIs: in.RedirectURIs, TokenFormat: in.TokenFormat, OwnerUserID: in.OwnerUserID}
	if in.AccessTokenTTL != nil {
		d := seconds(*in.AccessTokenTTL)
		p.AccessTokenTTL = &d
	}
	p.IssueQuota = quotaPtr(in.IssueQuota)
	if in.RateLimits != nil {
		p.ReadLimit, p.WriteLimit = quotaPtr(in.RateLimits.Read), quotaPtr(in.RateLimits.Write)
	}
	return p
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	var in admin.ClientInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c := &store.Client{ID: secret.NewID("gc"), TenantID: t.ID, TokenFormat: store.FormatJWT,
		Grants: []string{credential.GrantClientCredentials}}
	p := clientPatch(&in)
	if err := p.Apply(c); err != nil {
		return err
	}
	plain, err := a.Clients.Create(r.Context(), c, a.event(r, t.ID, audit.ClientCreate, c.ID))
	if err != nil {
		return err
	}
	out := a.render(r, c, t.Name)
	out.ClientSecret = plain
	w.Header().Set("Location", "/admin/v1/tenants/"+t.Name+"/clients/"+c.ID)
	protocol.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request) error {
	t, c, err := a.client(r)
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, a.render(r, c, t.Name))
	return nil
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request) error {
	var in admin.ClientInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t, c, err := a.client(r)
	if err != nil {
		return err
	}
	c, err = a.Clients.Update(r.Context(), c.ID, clientPatch(&in), a.event(r, t.ID, audit.ClientUpdate, c.ID))
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, a.render(r, c, t.Name))
	return nil
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request) error {
	t, c, err := a.client(r)
	if err != nil {
		return err
	}
	if err := a.Clients.Delete(r.Context(), c.ID, a.event(r, t.ID, audit.ClientDelete, c.ID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	var in admin.RotateInput
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			return err
		}
	}
	if in.PreviousExpiresIn < 0 {
		return protocol.ErrInvalidRequest.WithDescription("previous_expires_in must not be negative")
	}
	t, c, err := a.client(r)
	if err != nil {
		return err
	}
	plain, c, err := a.Clients.Rotate(r.Context(), c.ID, seconds(in.PreviousExpiresIn),
		a.event(r, t.ID, audit.ClientRotateSecret, c.ID))
	if err != nil {
		return err
	}
	cj := a.render(r, c, t.Name)
	protocol.WriteJSON(w, http.StatusCreated, admin.RotateOutput{ClientSecret: plain, Secret: cj.Secrets[len(cj.Secrets)-1], Client: cj})
	return nil
}

func (a *API) retireSecret(w http.ResponseWriter, r *http.Request) error {
	t, c, err := a.client(r)
	if err != nil {
		return err
	}
	c, err = a.Clients.Retire(r.Context(), c.ID, r.PathValue("secret"), a.event(r, t.ID, audit.ClientRetireSecret, c.ID))
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, a.render(r, c, t.Name))
	return nil
}

// render is clientJSON with the granted tenants' names looked up; tenants
// deleted since the grant are left out.
func (a *API) render(r *http.Request, c *store.Client, tenant string) admin.Client {
	var names []string
	for _, id := range c.GrantedTenants {
		if t, err := a.Store.GetTenantByID(r.Context(), id); err == nil {
			names = append(names, t.Name)
		}
	}
	return clientJSON(c, tenant, names)
}

func (a *API) grantTenant(w http.ResponseWriter, r *http.Request) error {
	return a.changeTenantGrant(w, r, audit.ClientGrantTenant, a.Clients.GrantTenant)
}

func (a *API) revokeTenant(w http.ResponseWriter, r *http.Request) error {
	return a.changeTenantGrant(w, r, audit.ClientRevokeTenant, a.Clients.RevokeTenant)
}

// changeTenantGrant grants or withdraws the client's access to the tenant
// named {other}, audited in the client's tenant.
func (a *API) changeTenantGrant(w http.ResponseWriter, r *http.Request, action store.Action,
	change func(ctx context.Context, id, tenantID string, ev store.Event) (*store.Client, error)) error {
	t, c, err := a.client(r)
	if err != nil {
		return err
	}
	other, err := a.otherTenant(r)
	if err != nil {
		return err
	}
	ev := a.event(r, t.ID, action, c.ID)
	ev.Detail = map[string]any{"tenant": other.Name, "tenant_id": other.ID}
	if c, err = change(r.Context(), c.ID, other.ID, ev); err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, a.render(r, c, t.Name))
	return nil
}

func (a *API) otherTenant(r *http.Request) (*store.Tenant, error) {
	name := r.PathValue("other")
	if !tenants.ValidName(name) {
		return nil, store.ErrNotFound
	}
	return a.Store.GetTenant(r.Context(), name)
}
