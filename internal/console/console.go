// Package console is the web console: server-rendered pages under
// /console/{tenant}/ on the public listener, built with html/template and
// embedded assets (no CDN), usable without JavaScript. It shares the
// browser session, CSRF tokens and sign-in throttle with the authorize
// flow (package websession), so signing in here also signs in there.
//
// Every form POST passes the cross-origin check and a double-submit CSRF
// token; every page is no-store, framed by nobody, and loads only
// Gatehouse's own assets (CSP). docs/console.md lists the pages and who
// may see each: a user's own API tokens; for administrators users, groups,
// API keys and the API reference; for company administrators settings,
// integrations, usage and the activity log.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/apikeys"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/pats"
	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/webhook"
	"github.com/gatehouse/gatehouse/internal/websession"
)

//go:embed templates/*.html assets/*
var files embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"hour": func(t time.Time) string { return t.UTC().Format("15:04") },
	"add":  func(a, b int) int { return a + b },
}).ParseFS(files, "templates/*.html"))

// Tenants is what the console reads of tenants.
type Tenants interface {
	GetTenant(ctx context.Context, name string) (*store.Tenant, error)
}

// Handler serves the console.
type Handler struct {
	Sessions *websession.Sessions
	Tenants  Tenants
	Users    *users.Service
	PATs     *pats.Service
	APIKeys  *apikeys.Service
	Clients  Clients
	// ClientService creates, rotates and deletes clients (its rules).
	ClientService *clients.Service
	Events        Events
	// TenantService changes tenant settings (validated as in the admin API).
	TenantService *tenants.Service
	// OpenAPI is the admin API's document, for the reference page.
	OpenAPI []byte
	// RouteGrants are the scopes and audiences of the gateway routes that
	// carry {tenant}: what a tenant may hand out to its clients unless the
	// operator set its own lists (tenants.HandOut). nil: none.
	RouteGrants func() (scopes, audiences []string)
	// Egress fetches a tenant's IdP metadata for "Test connection".
	Egress  *http.Client
	Limiter ratelimit.Limiter // sign-in throttle
	Audit   *audit.Recorder
	// Webhooks, when set, hears of API-access changes made here.
	Webhooks *webhook.Service
	Log      *slog.Logger
	Now      func() time.Time
}

// maxForm caps a form body.
const maxForm = 16 << 10

// Mount registers the console's routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	assets, _ := fs.Sub(files, "assets")
	mux.Handle("GET /console-assets/", http.StripPrefix("/console-assets/", assetServer(http.FileServerFS(assets))))
	mux.HandleFunc("GET /console-assets/vendor/redoc.standalone.js", redoc)
	var cop http.CrossOriginProtection
	get := func(pattern string, fn pageFunc) { mux.Handle("GET "+pattern, h.page(fn)) }
	post := func(pattern string, fn pageFunc) { mux.Handle("POST "+pattern, cop.Handler(h.form(fn))) }
	get("/console/{tenant}/{$}", func(w http.ResponseWriter, r *http.Request, c *caller) error {
		http.Redirect(w, r, c.path("tokens"), http.StatusSeeOther)
		return nil
	})
	mux.Handle("GET /console/{tenant}/signin", h.public(h.signInPage))
	mux.Handle("POST /console/{tenant}/signin", cop.Handler(h.public(h.signIn)))
	post("/console/{tenant}/signout", h.signOut)
	get("/console/{tenant}/tokens", h.tokens)
	post("/console/{tenant}/tokens", h.createToken)
	get("/console/{tenant}/tokens/{id}/revoke", h.confirmRevoke)
	post("/console/{tenant}/tokens/{id}/revoke", h.revokeToken)
	get("/console/{tenant}/users", h.admin(h.usersPage))
	post("/console/{tenant}/users/api-access", h.admin(h.setUsersAPI))
	get("/console/{tenant}/users/{id}", h.admin(h.userPage))
	post("/console/{tenant}/users/{id}", h.admin(h.saveUser))
	get("/console/{tenant}/groups", h.admin(h.groupsPage))
	post("/console/{tenant}/groups/api-access", h.admin(h.setGroupsAPI))
	get("/console/{tenant}/keys", h.admin(h.keysPage))
	post("/console/{tenant}/keys", h.admin(h.createKey))
	get("/console/{tenant}/keys/{id}/revoke", h.admin(h.confirmRevokeKey))
	post("/console/{tenant}/keys/{id}/revoke", h.admin(h.revokeKey))
	get("/console/{tenant}/settings", h.owner(h.settingsPage))
	post("/console/{tenant}/settings", h.owner(h.saveSettings))
	post("/console/{tenant}/settings/test-idp", h.owner(h.testIdP))
	get("/console/{tenant}/integrations", h.owner(h.integrationsPage))
	post("/console/{tenant}/integrations", h.owner(h.createIntegration))
	get("/console/{tenant}/integrations/{id}/rotate", h.owner(h.confirmIntegration("rotate")))
	post("/console/{tenant}/integrations/{id}/rotate", h.owner(h.rotateIntegration))
	get("/console/{tenant}/integrations/{id}/delete", h.owner(h.confirmIntegration("delete")))
	post("/console/{tenant}/integrations/{id}/delete", h.owner(h.deleteIntegration))
	get("/console/{tenant}/usage", h.owner(h.usagePage))
	get("/console/{tenant}/activity", h.owner(h.activityPage))
	get("/console/{tenant}/api", h.admin(h.reference))
	get("/console/{tenant}/api/openapi.json", h.admin(h.openAPI))
	get("/console/{tenant}/activity/export", h.owner(h.exportActivity))
}

// caller is the signed-in user on a tenant's console.
type caller struct {
	tenant *store.Tenant
	user   *store.User
	scopes []string // what the caller's roles grant (read on this request)
	admin  bool     // they include adminScope
	owner  bool     // … and settingsScope
}

// grantor is what the caller may hand out: what their roles grant.
func (c *caller) grantor() *users.Grantor { return users.NewGrantor(c.user, c.scopes) }

// view starts a page's view for the caller.
func (c *caller) view(title string) view {
	return view{Title: title, Tenant: c.tenant.Name, User: c.user, Admin: c.admin, Owner: c.owner}
}

func (c *caller) path(rest string) string { return "/console/" + c.tenant.Name + "/" + rest }

type pageFunc func(w http.ResponseWriter, r *http.Request, c *caller) error

// page serves a page for the signed-in user; anyone else goes to sign in.
func (h *Handler) page(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.tenant(w, r)
		if !ok {
			return
		}
		c, ok := h.signedIn(w, r, t)
		if !ok {
			return
		}
		if err := fn(w, r, c); err != nil {
			h.fail(w, r, c, err)
		}
	})
}

// form is page for a POST: the body is capped and parsed, and its CSRF
// token checked, before fn runs.
func (h *Handler) form(fn pageFunc) http.Handler {
	return h.page(func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		return fn(w, r, c)
	})
}

// public serves the pages of the signed-out (sign in).
func (h *Handler) public(fn func(w http.ResponseWriter, r *http.Request, t *store.Tenant)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := h.tenant(w, r); ok {
			fn(w, r, t)
		}
	})
}

var (
	errCSRF = &protocol.Error{Code: "invalid_request", Status: http.StatusForbidden,
		Description: "The form expired or came from another site. Reload the page and try again."}
	errForm = &protocol.Error{Code: "invalid_request", Status: http.StatusBadRequest, Description: "The form could not be read."}
)

func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return errForm
	}
	if !websession.CSRFOK(r) {
		return errCSRF
	}
	return nil
}

// tenant finds the tenant named in the path, or writes a 404 page.
func (h *Handler) tenant(w http.ResponseWriter, r *http.Request) (*store.Tenant, bool) {
	name := r.PathValue("tenant")
	var t *store.Tenant
	var err error = store.ErrNotFound
	if tenants.ValidName(name) {
		t, err = h.Tenants.GetTenant(r.Context(), name)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.render(w, r, http.StatusNotFound, "message", view{Title: "Not found", Message: "There is no such tenant."})
		return nil, false
	case err != nil:
		h.fail(w, r, &caller{tenant: &store.Tenant{Name: name}}, err)
		return nil, false
	}
	return t, true
}

// signedIn returns the session's user, or sends the browser to sign in.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, t *store.Tenant) (*caller, bool) {
	uid := h.Sessions.User(r, t.ID)
	var u *store.User
	if uid != "" {
		var err error
		if u, err = h.Users.Get(r.Context(), t.ID, uid); err != nil && !errors.Is(err, store.ErrNotFound) {
			h.fail(w, r, &caller{tenant: t}, err)
			return nil, false
		}
	}
	if u == nil {
		next := r.URL.Path
		if r.Method != http.MethodGet {
			next = "/console/" + t.Name + "/"
		}
		http.Redirect(w, r, "/console/"+t.Name+"/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
		return nil, false
	}
	scopes, err := h.Users.Scopes(r.Context(), u)
	if err != nil {
		h.fail(w, r, &caller{tenant: t, user: u}, err)
		return nil, false
	}
	return &caller{tenant: t, user: u, scopes: scopes, admin: slices.Contains(scopes, adminScope), owner: slices.Contains(scopes, settingsScope)}, true
}

// view is what templates show; each page fills in its part.
type view struct {
	Title, Message, Error string
	Tenant                string
	User                  *store.User
	CSRF                  string
	Email, Next           string

	Admin bool // show the admin pages in the navigation
	Owner bool // … and the settings page

	Settings *settingsForm

	Tokens  []tokenRow
	Created *tokenRow
	Token   *tokenRow
	Limit   int

	Users        []userRow
	Subject      *userRow // the user a user page is about
	RoleChoices  []choice
	GroupChoices []choice
	Groups       []groupRow
	Query        string
	NextAfter    string

	Keys       []keyRow
	Owners     []option
	CreatedKey *keyRow
	Key        *keyRow

	Integrations       []integrationRow
	CreatedIntegration *integrationRow
	Integration        *integrationRow
	Action             string
	OneIntegration     bool

	Usage []usageRow
	Since time.Time // the first hour of the usage chart

	Filter                 activityFilter
	Events                 []store.Event
	Older                  template.URL // the next page; "" on the last
	ExportCSV, ExportJSONL template.URL
}

// render writes a page with a fresh CSRF token and the console's headers.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.CSRF = h.Sessions.CSRF(w, r, "/console/")
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	if hd.Get("Content-Security-Policy") == "" { // a page may have set its own
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	}
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, v); err != nil {
		h.Log.Warn("console: render", "page", name, "err", err) // the browser went away
	}
}

// fail renders an error as a page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c *caller, err error) {
	cl := problem.Classify(err)
	cl.Logf(h.Log, "console", "path", r.URL.Path)
	v := c.view("Something went wrong")
	switch {
	case cl.Status == http.StatusNotFound:
		v.Title, v.Message = "Not found", "That no longer exists."
	case cl.Status == http.StatusServiceUnavailable:
		v.Title, v.Message = "Unavailable", "Gatehouse cannot reach its database right now. Try again in a moment."
	case cl.Status >= 500:
		v.Message = "An internal error occurred. Try again in a moment."
	default:
		_, v.Message, _ = refusal(err)
		if cl.Status == http.StatusForbidden {
			v.Title = "Not allowed"
		}
	}
	protocol.SetRetryAfter(w, cl.RetryAfter)
	h.render(w, r, cl.Status, "message", v)
}

// refusal is what a page says of an error that is the caller's doing (a
// request refused: invalid, forbidden, a conflict), with its status; ok is
// false for a fault, which fail answers.
func refusal(err error) (status int, msg string, ok bool) {
	cl := problem.Classify(err)
	if cl.Status >= 500 {
		return 0, "", false
	}
	msg = cl.Description
	if len(cl.Problems) > 0 {
		msg = strings.Join(cl.Problems, "; ")
	}
	if cl.Status == http.StatusForbidden && !strings.HasPrefix(msg, "Not allowed") {
		msg = "Not allowed: " + msg
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return cl.Status, upperFirst(msg), true
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// assetServer adds caching and content-type sniffing protection to the
// embedded assets. A path that cannot name one (invalid UTF-8, "%ff") is a
// 404, not the file server's 500.
func assetServer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name := strings.TrimPrefix(r.URL.Path, "/"); !utf8.ValidString(name) || (name != "" && !fs.ValidPath(name)) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) event(r *http.Request, c *caller, action store.Action, target string) store.Event {
	return audit.New(r.Context(), h.Now(), c.tenant.ID, "user:"+c.user.ID, action, target, audit.Success)
}

func itoa(n int) string { return strconv.Itoa(n) }

// retryAfter formats a wait for the Retry-After header.
func retryAfter(d time.Duration) string { return strconv.Itoa(int(d/time.Second) + 1) }
