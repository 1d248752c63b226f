package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikeys"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/consents"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/pats"
	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/webhook"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

//go:generate python3 gen_openapi.py
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return openAPI }

// maxBody caps admin request bodies.
const maxBody = 1 << 20

// API serves the admin API.
type API struct {
	Store   store.Store
	Tenants *tenants.Service
	Clients *clients.Service
	Keys    *keys.Manager
	Users   *users.Service
	PATs    *pats.Service
	APIKeys *apikeys.Service
	// Consents lists and withdraws users' remembered consents.
	Consents *consents.Service
	// BootstrapToken, when set, is the digest of the admin token given by
	// GATEHOUSE_ADMIN_TOKEN; it is checked in constant time.
	BootstrapToken *secret.Digest
	// SignLink signs a gateway file link (nil: links are off).
	SignLink func(path, subject string, ttl time.Duration) (string, time.Time, error)
	// Egress fetches tenant-chosen URLs (testing an IdP configuration).
	Egress *http.Client
	// Webhooks queues tenants' notifications (API-access changes, pings).
	Webhooks *webhook.Service
	// RouteGrants are the scopes and audiences of the gateway routes that
	// carry {tenant}: what a tenant's administrators may hand out unless
	// the operator sets a tenant's own lists (nil: none).
	RouteGrants func() (scopes, audiences []string)
	Log         *slog.Logger
	Now         func() time.Time
}

// Route is one admin operation; the table is what the OpenAPI test checks.
type Route struct {
	Method, Pattern string
	handler         func(*API, http.ResponseWriter, *http.Request) error
}

// Routes lists every admin operation.
var Routes = []Route{
	{"GET", "/admin/v1/tenants", (*API).listTenants},
	{"POST", "/admin/v1/tenants", (*API).createTenant},
	{"GET", "/admin/v1/tenants/{tenant}", (*API).getTenant},
	{"PATCH", "/admin/v1/tenants/{tenant}", (*API).updateTenant},
	{"DELETE", "/admin/v1/tenants/{tenant}", (*API).deleteTenant},
	{"POST", "/admin/v1/tenants/{tenant}/idp/test", (*API).testIdP},
	{"GET", "/admin/v1/tenants/{tenant}/webhook", (*API).getWebhook},
	{"POST", "/admin/v1/tenants/{tenant}/webhook/ping", (*API).pingWebhook},
	{"GET", "/admin/v1/tenants/{tenant}/clients", (*API).listClients},
	{"POST", "/admin/v1/tenants/{tenant}/clients", (*API).createClient},
	{"GET", "/admin/v1/tenants/{tenant}/clients/{client}", (*API).getClient},
	{"PATCH", "/admin/v1/tenants/{tenant}/clients/{client}", (*API).updateClient},
	{"DELETE", "/admin/v1/tenants/{tenant}/clients/{client}", (*API).deleteClient},
	{"POST", "/admin/v1/tenants/{tenant}/clients/{client}/secrets", (*API).rotateSecret},
	{"DELETE", "/admin/v1/tenants/{tenant}/clients/{client}/secrets/{secret}", (*API).retireSecret},
	{"PUT", "/admin/v1/tenants/{tenant}/clients/{client}/granted-tenants/{other}", (*API).grantTenant},
	{"DELETE", "/admin/v1/tenants/{tenant}/clients/{client}/granted-tenants/{other}", (*API).revokeTenant},
	{"GET", "/admin/v1/tenants/{tenant}/audit", (*API).tenantAudit},
	{"GET", "/admin/v1/audit", (*API).serverAudit},
	{"GET", "/admin/v1/keys", (*API).listKeys},
	{"POST", "/admin/v1/keys/rotate", (*API).rotateKey},
	{"POST", "/admin/v1/links", (*API).signLink},
	{"GET", "/admin/v1/tenants/{tenant}/users", (*API).listUsers},
	{"POST", "/admin/v1/tenants/{tenant}/users", (*API).createUser},
	{"POST", "/admin/v1/tenants/{tenant}/users/api-access", (*API).setAPIAccess},
	{"GET", "/admin/v1/tenants/{tenant}/users/{user}", (*API).getUser},
	{"PATCH", "/admin/v1/tenants/{tenant}/users/{user}", (*API).updateUser},
	{"DELETE", "/admin/v1/tenants/{tenant}/users/{user}", (*API).deleteUser},
	{"GET", "/admin/v1/tenants/{tenant}/users/{user}/tokens", (*API).listUserTokens},
	{"DELETE", "/admin/v1/tenants/{tenant}/users/{user}/tokens/{token}", (*API).revokeUserToken},
	{"GET", "/admin/v1/tenants/{tenant}/tokens/expiring", (*API).expiringTokens},
	{"GET", "/admin/v1/tenants/{tenant}/users/{user}/consents", (*API).listConsents},
	{"DELETE", "/admin/v1/tenants/{tenant}/users/{user}/consents/{client}", (*API).revokeConsent},
	{"GET", "/admin/v1/tenants/{tenant}/api-keys", (*API).listAPIKeys},
	{"POST", "/admin/v1/tenants/{tenant}/api-keys", (*API).createAPIKey},
	{"DELETE", "/admin/v1/tenants/{tenant}/api-keys/{key}", (*API).revokeAPIKey},
	{"GET", "/admin/v1/tenants/{tenant}/groups", (*API).listGroups},
	{"POST", "/admin/v1/tenants/{tenant}/groups", (*API).createGroup},
	{"GET", "/admin/v1/tenants/{tenant}/groups/{group}", (*API).getGroup},
	{"PATCH", "/admin/v1/tenants/{tenant}/groups/{group}", (*API).updateGroup},
	{"DELETE", "/admin/v1/tenants/{tenant}/groups/{group}", (*API).deleteGroup},
	{"GET", "/admin/v1/tenants/{tenant}/groups/{group}/members", (*API).listMembers},
	{"PUT", "/admin/v1/tenants/{tenant}/groups/{group}/members/{user}", (*API).addMember},
	{"DELETE", "/admin/v1/tenants/{tenant}/groups/{group}/members/{user}", (*API).removeMember},
	{"GET", "/admin/v1/tenants/{tenant}/roles", (*API).listRoles},
	{"POST", "/admin/v1/tenants/{tenant}/roles", (*API).createRole},
	{"DELETE", "/admin/v1/tenants/{tenant}/roles/{role}", (*API).deleteRole},
}

// Mount registers the admin routes and the OpenAPI document on mux.
func (a *API) Mount(mux *http.ServeMux) {
	for _, rt := range Routes {
		h := rt.handler
		mux.Handle(rt.Method+" "+rt.Pattern, a.authed(func(w http.ResponseWriter, r *http.Request) error { return h(a, w, r) }))
	}
	mux.HandleFunc("GET /admin/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.HandleFunc("/admin/v1/", func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, protocol.ErrNotFound.WithDescription("no such admin endpoint"))
	})
}

type actorKey struct{}

// authed checks the admin bearer credential, then runs h and renders its error.
func (a *API) authed(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := a.authenticate(r)
		if err != nil {
			a.writeError(w, err)
			return
		}
		ctx := context.WithValue(r.Context(), actorKey{}, actor)
		if err := h(w, r.WithContext(ctx)); err != nil {
			a.writeError(w, err)
		}
	})
}

func (a *API) authenticate(r *http.Request) (string, error) {
	unauthorized := protocol.ErrInvalidToken.WithChallenge("Bearer")
	scheme, tok := protocol.AuthScheme(r.Header.Get("Authorization"))
	if scheme != "bearer" || tok == "" {
		// RFC 6750 §3.1: no error code when no credentials were sent.
		return "", &protocol.Error{Code: "unauthorized", Status: http.StatusUnauthorized, Challenge: "Bearer",
			Description: "admin bearer token required"}
	}
	if secret.Parse(tok, secret.AdminToken) != nil {
		return "", unauthorized.WithDescription("malformed admin token")
	}
	d := secret.Hash(tok)
	if a.BootstrapToken != nil && d.Equal(*a.BootstrapToken) {
		return "admin:bootstrap", nil
	}
	cred, err := a.Store.GetAdminCredential(r.Context(), d.String())
	if errors.Is(err, store.ErrNotFound) {
		return "", unauthorized.WithDescription("unknown admin token")
	}
	if err != nil {
		return "", err
	}
	return "admin:" + cred.ID, nil
}

// event builds the audit event of an admin mutation.
func (a *API) event(r *http.Request, tenantID string, action store.Action, target string) store.Event {
	actor, _ := r.Context().Value(actorKey{}).(string)
	return audit.New(r.Context(), a.Now().UTC(), tenantID, actor, action, target, audit.Success)
}

// decode reads a JSON body into v (see protocol.DecodeJSON), at most maxBody.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return protocol.DecodeJSON(w, r, v, maxBody)
}

// writeError answers err (problem.Classify decides) in the admin API's
// shape: admin.Error with the problems of an invalid request.
func (a *API) writeError(w http.ResponseWriter, err error) {
	c := problem.Classify(err)
	c.Logf(a.Log, "admin API")
	if c.Challenge != "" {
		w.Header().Set("WWW-Authenticate", protocol.Challenge(c.Challenge, "gatehouse-admin", &protocol.Error{Code: c.Code, Description: c.Description}))
	}
	protocol.SetRetryAfter(w, c.RetryAfter)
	protocol.WriteJSON(w, c.Status, admin.Error{Code: c.Code, Description: c.Description, Problems: c.Problems}) //nolint:errcheck // a fixed shape
}

// page reads ?limit= and ?after= list parameters.
func page(r *http.Request) (store.Page, error) {
	p := store.Page{After: r.URL.Query().Get("after"), Limit: 100}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return p, protocol.ErrInvalidRequest.WithDescription("limit must be 1-1000")
		}
		p.Limit = n
	}
	return p, nil
}

func newList[T any](items []T, limit int, cursor func(T) string) admin.List[T] {
	l := admin.List[T]{Items: items}
	if l.Items == nil {
		l.Items = []T{}
	}
	if len(items) == limit && limit > 0 {
		c := cursor(items[len(items)-1])
		l.Next = &c
	}
	return l
}
