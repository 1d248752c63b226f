package authserver

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/sessions"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/websession"
)

// The authorization endpoint (RFC 6749 §4.1.1, RFC 7636, RFC 9700): the
// user signs in (unless their session cookie is live), sees what the
// client asks for, and approves or denies; the browser goes back to the
// client's exact registered redirect URI with a 60-second single-use code.
// A user who approved as much for the client before is not asked again
// (remembered consent, internal/consents), unless the request says
// prompt=consent or asks for gatehouse:tokens.
const (
	codeLifetime = 60 * time.Second
	maxFormBytes = 16 << 10
)

func (s *Server) mountAuthorize(mux *http.ServeMux) {
	var cop http.CrossOriginProtection
	mux.HandleFunc("GET /oauth2/authorize", s.authorize)
	mux.Handle("POST /oauth2/authorize", cop.Handler(http.HandlerFunc(s.authorizeForm)))
	mux.HandleFunc("/oauth2/authorize", methodNotAllowed("GET, POST"))
	mux.HandleFunc("GET /oauth2/userinfo", s.userinfo)
	mux.HandleFunc("POST /oauth2/userinfo", s.userinfo)
}

// Consents is what the flow needs of remembered consent (a
// *consents.Service).
type Consents interface {
	// Remembered reports whether the user's recorded consent for the
	// client covers scopes (never when they hold gatehouse:tokens).
	Remembered(ctx context.Context, tenantID, userID, clientID string, scopes []string) (bool, error)
	// Record adds scopes to what the user approved for the client, with ev.
	Record(ctx context.Context, tenantID, userID, clientID string, scopes []string, ev store.Event) error
}

// authzRequest is a validated authorization request.
type authzRequest struct {
	client   *clients.Resolved
	redirect string
	given    bool // redirect_uri was in the request (RFC 6749 §4.1.3 then wants it again)
	state    string
	scope    []string
	nonce    string
	chal     string
	prompt   string // OIDC Core §3.1.2.1, space-delimited
}

// prompts reports whether the request's prompt holds v.
func (a *authzRequest) prompts(v string) bool { return slices.Contains(strings.Fields(a.prompt), v) }

// params are the request's parameters, carried through the forms.
func (a *authzRequest) params() url.Values {
	v := url.Values{"response_type": {"code"}, "client_id": {a.client.Client.ID},
		"state": {a.state}, "scope": {strings.Join(a.scope, " ")}, "nonce": {a.nonce},
		"code_challenge": {a.chal}, "code_challenge_method": {"S256"}}
	if a.given {
		v.Set("redirect_uri", a.redirect)
	}
	if a.prompt != "" {
		v.Set("prompt", a.prompt)
	}
	return v
}

// parseAuthz validates an authorization request. Until the client and its
// redirect URI are known good, errors are shown to the user (page != "");
// after, they go back to the client (RFC 6749 §4.1.2.1).
func (s *Server) parseAuthz(ctx context.Context, q url.Values) (a *authzRequest, page string, redirectErr *protocol.Error) {
	for k, v := range q {
		if len(v) > 1 { // RFC 6749 §3.1
			return nil, "The request repeats the parameter " + protocol.Clean(k, 40) + ".", nil
		}
	}
	c, err := s.Clients.Get(ctx, q.Get("client_id"))
	if err != nil {
		return nil, "This application is not known to Gatehouse.", nil
	}
	redirect, given := q.Get("redirect_uri"), q.Has("redirect_uri")
	// Exact string comparison with a registered URI (RFC 9700 §4.1.3);
	// with none given and exactly one registered, that one.
	if !given && len(c.Client.RedirectURIs) == 1 {
		redirect = c.Client.RedirectURIs[0]
	}
	if !slices.Contains(c.Client.RedirectURIs, redirect) {
		return nil, "The redirect address does not match one this application registered, so Gatehouse will not send you there.", nil
	}
	a = &authzRequest{client: c, redirect: redirect, given: given, state: q.Get("state"), nonce: q.Get("nonce"), chal: q.Get("code_challenge"),
		prompt: q.Get("prompt")}
	switch {
	case q.Get("response_type") != "code":
		return a, "", &protocol.Error{Code: "unsupported_response_type", Description: "response_type must be code"}
	case !slices.Contains(c.Client.Grants, credential.GrantAuthorizationCode):
		return a, "", protocol.ErrUnauthorizedClient.WithDescription("this client may not use the authorization code flow")
	case q.Get("code_challenge_method") != "S256" || len(a.chal) != 43 || !sessions.Unreserved(a.chal):
		return a, "", protocol.ErrInvalidRequest.WithDescription("PKCE is required: code_challenge with code_challenge_method=S256 (plain is refused)")
	case len(a.state) > 512 || len(a.nonce) > 512 || !protocol.Printable(a.state) || !protocol.Printable(a.nonce):
		return a, "", protocol.ErrInvalidRequest.WithDescription("state and nonce must be printable, at most 512 bytes")
	case len(a.prompt) > 64 || !protocol.Printable(a.prompt):
		return a, "", protocol.ErrInvalidRequest.WithDescription("prompt must be printable, at most 64 bytes")
	case a.prompts("none") && len(strings.Fields(a.prompt)) > 1:
		// OIDC Core §3.1.2.1: "If this parameter contains none with any
		// other value, an error is returned."
		return a, "", protocol.ErrInvalidRequest.WithDescription("prompt=none cannot be combined with other values")
	}
	requested := strings.Fields(q.Get("scope"))
	if len(requested) == 0 {
		// Every scope the client registered, but gatehouse:tokens, which
		// is only ever granted when asked for by name.
		for _, sc := range c.Client.Scopes {
			if sc != credential.ScopeTokens {
				requested = append(requested, sc)
			}
		}
	}
	for _, sc := range requested {
		if !slices.Contains(c.Client.Scopes, sc) {
			return a, "", protocol.ErrInvalidScope.WithDescription("scope " + truncate(sc, 64) + " is not allowed for this client")
		}
		if !slices.Contains(a.scope, sc) {
			a.scope = append(a.scope, sc)
		}
	}
	return a, "", nil
}

// authzRequest validates an authorization request, or answers it: an
// error page before the redirect URI is known good, a redirect with the
// error after.
func (s *Server) authzRequest(w http.ResponseWriter, r *http.Request, q url.Values) (*authzRequest, bool) {
	a, page, rerr := s.parseAuthz(r.Context(), q)
	switch {
	case page != "":
		s.render(w, r, http.StatusBadRequest, "error", pageData{Message: page})
		return nil, false
	case rerr != nil:
		s.redirectError(w, r, a, rerr)
		return nil, false
	}
	return a, true
}

// loginPage is the sign-in form for a, with the email and message to show.
func loginPage(a *authzRequest, email, msg string) pageData {
	return pageData{Client: a.client.Client.Name, Tenant: a.client.Tenant.Name, Params: a.params(), Email: email, Error: msg}
}

// authorize is GET /oauth2/authorize.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	a, ok := s.authzRequest(w, r, r.URL.Query())
	if !ok {
		return
	}
	uid := s.sessions().User(r, a.client.Tenant.ID)
	switch {
	case uid != "" && !a.prompts("login"): // OIDC Core §3.1.2.1: login asks to sign in again
		s.signedIn(w, r, a, uid)
	case a.prompts("none"):
		// OIDC Core §3.1.2.1: none "MUST NOT display any authentication
		// or consent user interface pages", and signing in is one.
		s.redirectError(w, r, a, &protocol.Error{Code: "login_required", Description: "the user is not signed in"})
	default:
		s.render(w, r, http.StatusOK, "login", loginPage(a, "", ""))
	}
}

// authorizeForm is POST /oauth2/authorize: the login and consent forms.
func (s *Server) authorizeForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusBadRequest, "error", pageData{Message: "The form could not be read."})
		return
	}
	if !websession.CSRFOK(r) {
		s.render(w, r, http.StatusForbidden, "error", pageData{Message: "The form expired or came from another site. Go back to the application and start again."})
		return
	}
	q := url.Values{}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "state", "scope", "nonce", "code_challenge", "code_challenge_method", "prompt"} {
		if v, ok := r.PostForm[k]; ok {
			q[k] = v
		}
	}
	a, ok := s.authzRequest(w, r, q)
	if !ok {
		return
	}
	switch r.PostForm.Get("action") {
	case "login":
		s.login(w, r, a)
	case "consent":
		uid := s.sessions().User(r, a.client.Tenant.ID)
		if uid == "" {
			s.render(w, r, http.StatusOK, "login", loginPage(a, "", "Your session ended. Sign in again."))
			return
		}
		s.consent(w, r, a, uid)
	default:
		s.render(w, r, http.StatusBadRequest, "error", pageData{Message: "Unknown action."})
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, a *authzRequest) {
	ctx := r.Context()
	email := store.EmailKey(strings.TrimSpace(r.PostForm.Get("email")))
	meta := audit.MetaFrom(ctx)
	again := func(status int, msg string) {
		s.render(w, r, status, "login", loginPage(a, email, msg))
	}
	if wait, ok := websession.ThrottleLogin(ctx, s.Quota, meta.IP, a.client.Tenant.ID, email); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		again(http.StatusTooManyRequests, "Too many sign-in attempts. Wait a few minutes and try again.")
		return
	}
	u, err := s.Users.Login(ctx, a.client.Tenant.ID, email, r.PostForm.Get("password"))
	if err != nil {
		ev := audit.New(ctx, s.Now(), a.client.Tenant.ID, "user:"+protocol.Clean(email, 254), audit.UserLoginFailed, a.client.Client.ID, audit.Failure)
		s.Audit.Record(ev)
		again(http.StatusUnauthorized, "The email or password is not right.")
		return
	}
	if err := s.Audit.Write(ctx, audit.New(ctx, s.Now(), a.client.Tenant.ID, "user:"+u.ID, audit.UserLogin, a.client.Client.ID, audit.Success)); err != nil {
		s.Log.Error("authorize: record sign-in", "err", err)
		again(http.StatusServiceUnavailable, "Signing in is not possible right now. Try again in a moment.")
		return
	}
	s.sessions().Set(w, a.client.Tenant.ID, u.ID)
	s.signedIn(w, r, a, u.ID)
}

// signedIn goes on once the user is known, by their session or a sign-in
// just now: straight back to the client with a code when the user's
// recorded consent covers what this request would grant, else to the
// consent page. A user without API access is told so here rather than
// after approving.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, a *authzRequest, uid string) {
	if s.notOwner(w, r, a, uid) {
		return
	}
	u, have, perr := s.apiUser(r.Context(), a.client.Tenant.ID, uid)
	switch {
	case perr != nil && a.prompts("none"):
		s.redirectError(w, r, a, &protocol.Error{Code: "access_denied", Description: "the user cannot authorize API access: " + perr.Description})
		return
	case perr != nil:
		s.render(w, r, http.StatusForbidden, "error", pageData{Message: "Your account cannot authorize API access: " + perr.Description + "."})
		return
	}
	scope := grantScope(a, have)
	// OIDC Core §3.1.2.1: consent "SHOULD prompt the End-User for consent
	// before returning information to the Client", remembered or not.
	if !a.prompts("consent") && s.remembered(r.Context(), a, u.ID, scope) {
		s.issue(w, r, a, u, scope, true)
		return
	}
	if a.prompts("none") {
		s.redirectError(w, r, a, &protocol.Error{Code: "consent_required", Description: "the user has not approved this request"})
		return
	}
	s.render(w, r, http.StatusOK, "consent", pageData{Client: a.client.Client.Name, Tenant: a.client.Tenant.Name,
		Params: a.params(), Scopes: describe(a.scope), Email: u.Email})
}

// grantScope is what an authorization of a grants: a user token carries
// what both the client may ask for and the user may grant, their roles'
// scopes and Gatehouse's own.
func grantScope(a *authzRequest, roleScopes []string) []string {
	return authn.Intersect(a.scope, authn.Grantable(roleScopes))
}

// remembered reports whether the user's recorded consent for the client
// covers scope. A failure to look is logged and counts as no: asking
// again is always safe.
func (s *Server) remembered(ctx context.Context, a *authzRequest, uid string, scope []string) bool {
	if s.Consents == nil {
		return false
	}
	ok, err := s.Consents.Remembered(ctx, a.client.Tenant.ID, uid, a.client.Client.ID, scope)
	if err != nil {
		s.Log.Warn("authorize: read remembered consent", "err", err)
	}
	return ok && err == nil
}

func (s *Server) consent(w http.ResponseWriter, r *http.Request, a *authzRequest, uid string) {
	ctx := r.Context()
	if s.notOwner(w, r, a, uid) {
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		s.Audit.Record(audit.New(ctx, s.Now(), a.client.Tenant.ID, "user:"+uid, audit.OAuthConsentDenied, a.client.Client.ID, audit.Success))
		s.redirectError(w, r, a, &protocol.Error{Code: "access_denied", Description: "the user denied the request"})
		return
	}
	u, have, perr := s.apiUser(ctx, a.client.Tenant.ID, uid)
	if perr != nil {
		s.render(w, r, http.StatusForbidden, "error", pageData{Message: "Your account cannot authorize API access: " + perr.Description + "."})
		return
	}
	s.issue(w, r, a, u, grantScope(a, have), false)
}

// issue answers an approved request, approved by the user on the consent
// page just now or remembered from before: a code for scope, stored with
// its oauth.authorize event, and the redirect back. An approval on the
// page is recorded first, so that the next request asking no more need
// not ask.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, a *authzRequest, u *store.User, scope []string, remembered bool) {
	ctx := r.Context()
	now := s.Now()
	apiScope := func(sc string) bool { return !credential.Own(sc) }
	if slices.ContainsFunc(a.scope, apiScope) && !slices.ContainsFunc(scope, apiScope) {
		s.redirectError(w, r, a, protocol.ErrInvalidScope.WithDescription("the user's roles grant none of the requested scopes"))
		return
	}
	if !remembered && s.Consents != nil {
		ev := audit.New(ctx, now, a.client.Tenant.ID, "user:"+u.ID, audit.OAuthConsent, a.client.Client.ID, audit.Success)
		ev.Detail = map[string]any{"scope": strings.Join(scope, " ")}
		if err := s.Consents.Record(ctx, a.client.Tenant.ID, u.ID, a.client.Client.ID, scope, ev); err != nil {
			s.Log.Error("authorize: record consent", "err", err)
			s.redirectError(w, r, a, protocol.ErrServer.WithDescription("temporarily unable to authorize"))
			return
		}
	}
	code := websession.RandomToken()
	ev := audit.New(ctx, now, a.client.Tenant.ID, "user:"+u.ID, audit.OAuthAuthorize, a.client.Client.ID, audit.Success)
	ev.Detail = map[string]any{"scope": strings.Join(scope, " ")}
	if remembered {
		ev.Detail["consent"] = "remembered" // no page was shown
	}
	err := s.Store.CreateAuthCode(ctx, &store.AuthCode{Digest: secret.Hash(code).String(), ClientID: a.client.Client.ID,
		TenantID: a.client.Tenant.ID, UserID: u.ID, RedirectURI: redirectParam(a), Scope: strings.Join(scope, " "), Nonce: a.nonce,
		Challenge: a.chal, AuthTime: now, ExpiresAt: now.Add(codeLifetime)}, ev)
	if err != nil {
		s.Log.Error("authorize: store code", "err", err)
		s.redirectError(w, r, a, protocol.ErrServer.WithDescription("temporarily unable to authorize"))
		return
	}
	s.redirect(w, r, a, url.Values{"code": {code}})
}

// notOwner refuses, with an error page and no redirect, a user-based
// integration (a client with an owner) to anyone but its owner, and
// reports whether it did.
func (s *Server) notOwner(w http.ResponseWriter, r *http.Request, a *authzRequest, uid string) bool {
	owner := a.client.Client.OwnerUserID
	if owner == "" || owner == uid {
		return false
	}
	ev := audit.New(r.Context(), s.Now(), a.client.Tenant.ID, "user:"+uid, audit.OAuthAuthorize, a.client.Client.ID, audit.Failure)
	ev.Detail = map[string]any{"reason": "not the integration's owner"}
	s.Audit.Record(ev)
	s.render(w, r, http.StatusForbidden, "error", pageData{Message: "This integration belongs to another user. Only its owner can authorize it."})
	return true
}

// redirectParam is the redirect_uri the token request must repeat: the one
// the authorization request named, or "" when it named none.
func redirectParam(a *authzRequest) string {
	if a.given {
		return a.redirect
	}
	return ""
}

// redirectError sends an error back to the client (RFC 6749 §4.1.2.1).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, a *authzRequest, e *protocol.Error) {
	v := url.Values{"error": {e.Code}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	s.redirect(w, r, a, v)
}

// redirect goes back to the client's registered redirect URI with v, the
// state and the issuer (RFC 9207), by 303 so the browser does not repost.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, a *authzRequest, v url.Values) {
	u, _ := url.Parse(a.redirect) // validated at registration
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	if a.state != "" {
		q.Set("state", a.state)
	}
	q.Set("iss", s.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// sessions is the browser session shared with the console.
func (s *Server) sessions() *websession.Sessions {
	if s.Sessions != nil {
		return s.Sessions
	}
	return &websession.Sessions{Keys: s.Keys, Now: s.Now, Secure: strings.HasPrefix(s.Issuer, "https://")}
}

// pageData is what the templates show.
type pageData struct {
	Client, Tenant, Email, Error, Message string
	Scopes                                []scopeLine
	Params                                url.Values
	CSRF, Nonce                           string
}

// render writes a page with a fresh CSRF token and a strict CSP: nothing
// loads from anywhere, the one inline style carries a nonce.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.CSRF, d.Nonce = s.sessions().CSRF(w, r, "/oauth2/authorize"), websession.RandomToken()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+d.Nonce+"'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, d); err != nil {
		s.Log.Warn("authorize: render", "page", name, "err", err) // the browser went away
	}
}

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse</title><style nonce="{{.Nonce}}">
body{font:16px/1.5 system-ui,sans-serif;background:#f5f6f8;color:#1d2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin-top:0} label{display:block;margin:.8rem 0 .2rem} input[type=email],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#2454d6;color:#fff;font-size:1rem;cursor:pointer}
button.secondary{background:#e3e6ee;color:#1d2330} .error{color:#a11;background:#fdecec;padding:.6rem;border-radius:4px} ul{padding-left:1.2rem} code{background:#eef;padding:0 .2rem}
</style></head><body><main>{{end}}
{{define "hidden"}}<input type="hidden" name="csrf" value="{{.CSRF}}">{{range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}{{end}}
{{define "login"}}{{template "head" .}}
<h1>Sign in to {{.Tenant}}</h1><p><strong>{{.Client}}</strong> wants to access the API on your behalf.</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/oauth2/authorize">{{template "hidden" .}}<input type="hidden" name="action" value="login">
<label for="email">Email</label><input id="email" name="email" type="email" value="{{.Email}}" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></main></body></html>{{end}}
{{define "consent"}}{{template "head" .}}
<h1>Authorize {{.Client}}</h1><p>Signed in as {{.Email}} ({{.Tenant}}). <strong>{{.Client}}</strong> asks to:</p>
<ul>{{range .Scopes}}<li>{{if .Words}}{{.Words}} {{end}}<code>{{.Name}}</code>{{if .Warning}}<br><strong>{{.Warning}}</strong>{{end}}</li>{{end}}</ul>
<form method="post" action="/oauth2/authorize">{{template "hidden" .}}<input type="hidden" name="action" value="consent">
<button type="submit" name="decision" value="allow">Allow</button> <button type="submit" name="decision" value="deny" class="secondary">Deny</button></form>
</main></body></html>{{end}}
{{define "error"}}{{template "head" .}}<h1>Cannot continue</h1><p class="error" role="alert">{{.Message}}</p></main></body></html>{{end}}
`))

// scopeLine is a scope as the consent page shows it: in words where
// Gatehouse defines the scope, with a warning where granting it hands over
// more than API calls.
type scopeLine struct{ Name, Words, Warning string }

// ownScopeWords describe the scopes Gatehouse defines.
var ownScopeWords = map[string]scopeLine{
	credential.ScopeOpenID:  {Words: "Know who you are (your user id)."},
	credential.ScopeEmail:   {Words: "See your email address."},
	credential.ScopeProfile: {Words: "See your name."},
	credential.ScopeTokens: {Words: "Create, list and revoke your personal access tokens.",
		Warning: "A token it creates has the access this application asks for here, and keeps working after you remove the application, until it expires or you revoke it."},
}

func describe(scopes []string) []scopeLine {
	out := make([]scopeLine, len(scopes))
	for i, sc := range scopes {
		out[i] = ownScopeWords[sc]
		out[i].Name = sc
	}
	return out
}
