package httpapi

import (
	"cmp"
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

func (a *API) tenantJSON(t *store.Tenant) admin.Tenant {
	return admin.Tenant{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		Settings: admin.TenantSettings{AccessTokenTTL: int64(t.Settings.AccessTokenTTL / time.Second),
			RateLimits: rateLimitsJSON(t.Settings.RateLimits), AllowHTTPRedirects: t.Settings.AllowHTTPRedirects,
			AllowLocalRedirects: t.Settings.AllowLocalRedirects, OneActiveIntegration: t.Settings.OneActiveIntegration,
			SessionLifetime: int64(t.Settings.SessionLifetime / time.Second), RefreshGrace: int64(t.Settings.RefreshGrace / time.Second),
			PATMaxActive: t.Settings.PATMaxActive, PATForbidNever: t.Settings.PATForbidNever,
			PATMaxLifetime:     int64(t.Settings.PATMaxLifetime / time.Second),
			APISessionLifetime: int64(t.Settings.APISessionLifetime / time.Second),
			RefreshSkew:        int64(t.Settings.RefreshSkew / time.Second), APIKeyLoginsPerHour: t.Settings.APIKeyLoginsPerHour,
			UserAuthMode: cmp.Or(t.Settings.UserAuthMode, store.AuthModePAT), WebhookURL: t.Settings.WebhookURL,
			IdP: admin.IdPSettings{Issuer: t.Settings.IdP.Issuer, Audiences: nonNil(t.Settings.IdP.Audiences),
				ClaimNamespace: t.Settings.IdP.ClaimNamespace, RequireTenantClaim: t.Settings.IdP.RequireTenantClaim},
			HandOut: a.handOutJSON(t)}}
}

// handOutJSON is what the tenant's administrators may hand out, without
// Gatehouse's own scopes (always allowed).
func (a *API) handOutJSON(t *store.Tenant) admin.HandOut {
	scopes, audiences := a.routeGrants()
	scopes, audiences = tenants.HandOut(t, scopes, audiences)
	return admin.HandOut{Scopes: slices.DeleteFunc(scopes, credential.Own), Audiences: nonNil(audiences),
		FromRoutes: t.Settings.HandOut == nil}
}

func (a *API) routeGrants() (scopes, audiences []string) {
	if a.RouteGrants == nil {
		return nil, nil
	}
	return a.RouteGrants()
}

// tenant finds the tenant named in the path; a name that cannot be one is
// "not found" without a lookup.
func (a *API) tenant(r *http.Request) (*store.Tenant, error) {
	name := r.PathValue("tenant")
	if !tenants.ValidName(name) {
		return nil, store.ErrNotFound
	}
	return a.Store.GetTenant(r.Context(), name)
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	ts, err := a.Store.ListTenants(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]admin.Tenant, len(ts))
	for i := range ts {
		out[i] = a.tenantJSON(&ts[i])
	}
	protocol.WriteJSON(w, http.StatusOK, newList(out, p.Limit, func(t admin.Tenant) string { return t.Name }))
	return nil
}

func (a *API) applyTenant(in *admin.TenantInput, t *store.Tenant) {
	if in.Name != nil {
		t.Name = *in.Name
	}
	if in.Settings == nil {
		return
	}
	if in.Settings.AccessTokenTTL != nil {
		t.Settings.AccessTokenTTL = seconds(*in.Settings.AccessTokenTTL)
	}
	if in.Settings.SessionLifetime != nil {
		t.Settings.SessionLifetime = seconds(*in.Settings.SessionLifetime)
	}
	if in.Settings.RefreshGrace != nil {
		t.Settings.RefreshGrace = seconds(*in.Settings.RefreshGrace)
	}
	if in.Settings.PATMaxActive != nil {
		t.Settings.PATMaxActive = *in.Settings.PATMaxActive
	}
	if in.Settings.PATMaxLifetime != nil {
		t.Settings.PATMaxLifetime = seconds(*in.Settings.PATMaxLifetime)
	}
	if in.Settings.APISessionLifetime != nil {
		t.Settings.APISessionLifetime = seconds(*in.Settings.APISessionLifetime)
	}
	if in.Settings.RefreshSkew != nil {
		t.Settings.RefreshSkew = seconds(*in.Settings.RefreshSkew)
	}
	if in.Settings.APIKeyLoginsPerHour != nil {
		t.Settings.APIKeyLoginsPerHour = *in.Settings.APIKeyLoginsPerHour
	}
	if in.Settings.UserAuthMode != nil {
		t.Settings.UserAuthMode = *in.Settings.UserAuthMode
	}
	if in.Settings.WebhookURL != nil {
		t.Settings.WebhookURL = *in.Settings.WebhookURL
	}
	if idp := in.Settings.IdP; idp != nil {
		applyIdP(idp, &t.Settings.IdP)
	}
	if h := in.Settings.HandOut; h != nil {
		a.applyHandOut(h, t)
	}
	if rl := in.Settings.RateLimits; rl != nil {
		if q := quotaPtr(rl.Read); q != nil {
			t.Settings.RateLimits.Read = *q
		}
		if q := quotaPtr(rl.Write); q != nil {
			t.Settings.RateLimits.Write = *q
		}
	}
	for _, f := range []struct {
		in  *bool
		out *bool
	}{{in.Settings.AllowHTTPRedirects, &t.Settings.AllowHTTPRedirects}, {in.Settings.AllowLocalRedirects, &t.Settings.AllowLocalRedirects},
		{in.Settings.OneActiveIntegration, &t.Settings.OneActiveIntegration}, {in.Settings.PATForbidNever, &t.Settings.PATForbidNever}} {
		if f.in != nil {
			*f.out = *f.in
		}
	}
}

func applyIdP(in *admin.IdPSettingsInput, out *store.IdPSettings) {
	if in.Issuer != nil {
		out.Issuer = *in.Issuer
	}
	if in.Audiences != nil {
		out.Audiences = *in.Audiences
	}
	if in.ClaimNamespace != nil {
		out.ClaimNamespace = *in.ClaimNamespace
	}
	if in.RequireTenantClaim != nil {
		out.RequireTenantClaim = *in.RequireTenantClaim
	}
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in admin.TenantInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t := &store.Tenant{}
	a.applyTenant(&in, t)
	if err := a.Tenants.Create(r.Context(), t, a.event(r, "", audit.TenantCreate, "")); err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+t.Name)
	protocol.WriteJSON(w, http.StatusCreated, a.tenantJSON(t))
	return nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, a.tenantJSON(t))
	return nil
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request) error {
	var in admin.TenantInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	t, err = a.Tenants.Update(r.Context(), t.ID, func(t *store.Tenant) { a.applyTenant(&in, t) }, a.event(r, t.ID, audit.TenantUpdate, t.Name))
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, a.tenantJSON(t))
	return nil
}

func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	// A server-wide event: the tenant's own log goes with its URL.
	ev := a.event(r, "", audit.TenantDelete, t.Name)
	ev.Detail = map[string]any{"tenant_id": t.ID}
	if err := a.Tenants.Delete(r.Context(), t.ID, ev); err != nil {
		return err
	}
	a.Clients.Invalidate("")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testIdP fetches the identity provider's discovery document and keys, of
// the issuer given or else the one configured, and reports what it found.
// A failure to reach the IdP is a finding (ok false), not an error.
func (a *API) testIdP(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Issuer string `json:"issuer"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			return err
		}
	}
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	issuer := cmp.Or(in.Issuer, t.Settings.IdP.Issuer)
	if issuer == "" {
		return &tenants.InvalidError{What: "tenant", Problems: []string{"no issuer: give one, or configure idp.issuer first"}}
	}
	out := admin.IdPTest{Issuer: issuer, KeyIDs: []string{}, Algs: []string{}}
	m, kids, err := federation.Probe(r.Context(), a.Egress, issuer)
	if m != nil {
		out.JWKSURI, out.Algs = m.JWKSURI, nonNil(m.Algs)
	}
	if err != nil {
		out.Error = err.Error()
	} else {
		out.OK, out.KeyIDs = true, kids
	}
	protocol.WriteJSON(w, http.StatusOK, out)
	return nil
}

// applyHandOut sets what the tenant's administrators may hand out: back to
// the routes' lists, or the lists given (each starting from the one in
// force).
func (a *API) applyHandOut(in *admin.HandOutInput, t *store.Tenant) {
	if in.FromRoutes != nil && *in.FromRoutes {
		t.Settings.HandOut = nil
		return
	}
	if in.Scopes == nil && in.Audiences == nil {
		return
	}
	cur := a.handOutJSON(t)
	h := &store.HandOut{Scopes: cur.Scopes, Audiences: cur.Audiences}
	if in.Scopes != nil {
		h.Scopes = nonNil(*in.Scopes)
	}
	if in.Audiences != nil {
		h.Audiences = nonNil(*in.Audiences)
	}
	t.Settings.HandOut = h
}
