// Package gateway is the authenticating reverse proxy in front of the
// platform's own API. Every request with a canonical path is matched to a
// configured route, then, in this order: its bearer credential is verified,
// the API version resolved, the token's audience, the tenant in the path
// and the route's read or write scope checked, and the caller's read or
// write budget charged (GCRA). Only then is it proxied, with trusted
// identity headers in place of the caller's token.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Authenticator resolves a bearer credential presented on a route of the
// named tenant ("" for none) to what it may do now (an
// *authn.Authenticator).
type Authenticator interface {
	AuthenticateFor(ctx context.Context, raw, tenant string) (*authn.Principal, error)
}

// Gateway serves the configured routes.
type Gateway struct {
	Auth    Authenticator
	Limiter ratelimit.Limiter
	Links   *Links // nil: signed links are off
	Realm   string // the issuer, named in WWW-Authenticate
	Log     *slog.Logger
	Now     func() time.Time
	Metrics *Metrics
	// Proxies are the trusted proxies, whose X-Forwarded-Proto is believed.
	Proxies httpx.Proxies
	// Used, when set, is told of each request a client makes (batched by
	// the callee).
	Used func(clientID string, at time.Time)
	// Limited, when set, is told of each request of a client's that the
	// rate limit refused (batched by the callee).
	Limited func(clientID string, at time.Time)

	table   atomic.Pointer[Table]
	buffers BufferPool // shared by every route's proxy
}

// Identity headers the upstream may trust: the gateway sets them and strips
// any a caller sent.
const (
	HeaderSubject = "X-Gatehouse-Subject"
	HeaderTenant  = "X-Gatehouse-Tenant"
	HeaderClient  = "X-Gatehouse-Client"
	HeaderScopes  = "X-Gatehouse-Scopes"
	HeaderAuth    = "X-Gatehouse-Auth"
	HeaderVersion = "X-Gatehouse-Api-Version"
)

// Install makes t the routing table. Requests already being proxied finish
// on the old table's routes, whose idle connections are then let go.
func (g *Gateway) Install(t *Table) {
	for _, r := range t.routes {
		r.proxy = g.newProxy(r)
	}
	old := g.table.Swap(t)
	if old != nil {
		for _, r := range old.routes {
			if tr, ok := r.proxy.Transport.(*http.Transport); ok {
				tr.CloseIdleConnections()
			}
		}
	}
}

// Decisions, the values of the metrics' decision label.
const (
	decAllowed         = "allowed"
	decUnauthenticated = "unauthenticated"
	decForbidden       = "forbidden"
	decLimited         = "limited"
	decBadRequest      = "bad_request"
	decNotFound        = "not_found"
	decGone            = "gone"
	decUnavailable     = "unavailable"
)

// ServeHTTP is the gateway: everything on the public listener that no
// other handler claimed.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if why := unsafePath(r); why != "" {
		g.Metrics.decide("none", decBadRequest)
		protocol.WriteError(w, protocol.ErrInvalidRequest.WithDescription(why), nil)
		return
	}
	t := g.table.Load()
	var m match
	ok := t != nil
	if ok {
		m, ok = t.match(r.URL.Path)
	}
	if !ok {
		g.Metrics.decide("none", decNotFound)
		protocol.WriteError(w, protocol.ErrNotFound.WithDescription("no such endpoint"), nil)
		return
	}
	route := m.route
	write, known := methodClass(r.Method)
	switch {
	case !known:
		g.refuseMethod(w, route, "method "+protocol.Clean(r.Method, 20)+" is not allowed")
		return
	case write && route.WriteScope == "":
		g.refuseMethod(w, route, "this API is read-only")
		return
	case r.Header.Get("Upgrade") != "":
		// A switched protocol (WebSocket, h2c) would be a tunnel that no
		// later check sees: refused until a route can opt in.
		g.Metrics.decide(route.Name, decBadRequest)
		protocol.WriteError(w, protocol.ErrInvalidRequest.WithDescription("protocol upgrades are not proxied"), nil)
		return
	case r.ContentLength > route.MaxBody:
		g.Metrics.decide(route.Name, decBadRequest)
		protocol.WriteError(w, protocol.ErrRequestTooLarge.WithDescription(fmt.Sprintf("the request body is larger than %d bytes", route.MaxBody)), nil)
		return
	}

	// 1. Who is calling.
	p, linked, failure := g.authenticate(r, &m)
	if failure != nil {
		g.Metrics.decide(route.Name, failure.decision)
		g.refuse(w, failure.err, failure.scope)
		return
	}
	// From here on every answer names the caller's budgets.
	b := g.budget(t, &m, p, write)
	w.Header().Set("RateLimit-Policy", policy(b.all))

	// API version: removed ones are gone; deprecated ones say so.
	if v := m.version; v != nil {
		if v.Removed {
			g.Metrics.decide(route.Name, decGone)
			cur := route.defaultVersion.Name
			protocol.WriteJSON(w, http.StatusGone, map[string]string{"error": "version_removed",
				"error_description": fmt.Sprintf("API version %s is no longer available; the current version is %s", v.Name, cur),
				"current_version":   cur})
			return
		}
		h := w.Header()
		if !v.Deprecated.IsZero() {
			h.Set("Deprecation", "@"+strconv.FormatInt(v.Deprecated.Unix(), 10)) // RFC 9745 §2.1
		}
		if !v.Sunset.IsZero() {
			h.Set("Sunset", v.Sunset.UTC().Format(http.TimeFormat)) // RFC 8594 §3
		}
	}

	// A signed link vouches for its path, subject and tenant by itself;
	// a token must be meant for this API, this tenant and this use.
	if !linked {
		// RFC 9068 §4: the resource server checks the audience.
		if len(route.Audiences) > 0 && !slices.ContainsFunc(p.Audience, func(a string) bool { return slices.Contains(route.Audiences, a) }) {
			g.Metrics.decide(route.Name, decUnauthenticated)
			g.refuse(w, protocol.ErrInvalidToken.WithDescription("the access token is not meant for this API (audience)"), "")
			return
		}
		// 2. Which tenant, compared exactly: "Acme" is not "acme".
		if m.tenant != "" && !p.Covers(m.tenant) {
			g.Metrics.decide(route.Name, decForbidden)
			g.refuse(w, protocol.ErrInsufficientScope.WithDescription(
				fmt.Sprintf("the access token does not cover tenant %q", protocol.Clean(m.tenant, 64))), "")
			return
		}
		// 3. What for: the route's read or write scope.
		need := route.ReadScope
		if write {
			need = route.WriteScope
		}
		if !p.HasScope(need) {
			g.Metrics.decide(route.Name, decForbidden)
			g.refuse(w, protocol.ErrInsufficientScope.WithDescription("the access token lacks the scope "+need), need)
			return
		}
	}

	// 4. How often.
	if !g.charge(w, r, route, b, p.ClientID) {
		return
	}

	g.Metrics.decide(route.Name, decAllowed)
	if g.Used != nil && p.ClientID != "" {
		g.Used(p.ClientID, g.Now())
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, route.MaxBody)
	}
	// The listener's read and write timeouts suit API calls, not a large
	// upload or download streaming through; the upstream's own limits and
	// the route's header timeout apply instead, within an hour.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(streamLimit))  //nolint:errcheck // not every writer has deadlines
	rc.SetWriteDeadline(time.Now().Add(streamLimit)) //nolint:errcheck
	https := r.TLS != nil || g.Proxies.IsHTTPS(r)
	ctx := context.WithValue(r.Context(), forwardKey{}, &forward{match: m, principal: p, https: https, ip: g.Proxies.ClientIP(r)})
	route.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// methodClass sorts methods into reads and writes.
func methodClass(method string) (write, known bool) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false, true
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true, true
	}
	return false, false
}

func (g *Gateway) refuseMethod(w http.ResponseWriter, route *Route, why string) {
	g.Metrics.decide(route.Name, decBadRequest)
	allow := "GET, HEAD, OPTIONS"
	if route.WriteScope != "" {
		allow += ", POST, PUT, PATCH, DELETE"
	}
	w.Header().Set("Allow", allow)
	protocol.WriteError(w, protocol.ErrMethodNotAllowed.WithDescription(why), nil)
}

type failure struct {
	err      *protocol.Error
	decision string
	scope    string
}

var (
	errNoToken = &protocol.Error{Code: "missing_token", Status: http.StatusUnauthorized,
		Description: "send an access token as Authorization: Bearer <token>"}
	errQueryToken = protocol.ErrInvalidRequest.WithDescription(
		"access tokens are accepted only in the Authorization header, never in the URL")
)

// authenticate finds and verifies the caller's credential: a bearer token
// in the Authorization header only (RFC 6750 §2.1), or, for a GET with no
// Authorization header at all, a signed link.
func (g *Gateway) authenticate(r *http.Request, m *match) (*authn.Principal, bool, *failure) {
	var q url.Values // nil (nothing to find) for the usual query-less call
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	if q.Has("access_token") {
		return nil, false, &failure{err: errQueryToken, decision: decBadRequest}
	}
	hs := r.Header.Values("Authorization")
	if len(hs) == 0 && g.Links != nil && q.Has(linkSig) {
		p, err := g.Links.verify(r, m)
		if err != nil {
			return nil, false, &failure{err: &protocol.Error{Code: "invalid_link", Status: http.StatusForbidden,
				Description: err.Error()}, decision: decForbidden}
		}
		return p, true, nil
	}
	if len(hs) > 1 {
		return nil, false, &failure{err: protocol.ErrInvalidRequest.WithDescription("more than one Authorization header"), decision: decBadRequest}
	}
	if len(hs) == 0 {
		return nil, false, &failure{err: errNoToken, decision: decUnauthenticated}
	}
	scheme, tok := protocol.AuthScheme(hs[0])
	if scheme != "bearer" {
		return nil, false, &failure{err: errNoToken, decision: decUnauthenticated}
	}
	if !token68(tok) {
		return nil, false, &failure{err: protocol.ErrInvalidToken.WithDescription("the access token is malformed"), decision: decUnauthenticated}
	}
	p, err := g.Auth.AuthenticateFor(r.Context(), tok, m.tenant)
	switch {
	case err == nil:
		return p, false, nil
	case errors.Is(err, authn.ErrNoAPIAccess):
		return nil, false, &failure{err: protocol.ErrInsufficientScope.WithDescription(err.Error()), decision: decForbidden}
	case errors.Is(err, authn.ErrExpired), errors.Is(err, authn.ErrInvalid), errors.Is(err, authn.ErrRevoked):
		return nil, false, &failure{err: protocol.ErrInvalidToken.WithDescription(err.Error()), decision: decUnauthenticated}
	default:
		g.Log.Error("gateway: cannot verify a token", "err", err)
		return nil, false, &failure{err: protocol.ErrUnavailable.WithDescription("the token cannot be checked right now; retry").
			WithRetryAfter(time.Second), decision: decUnavailable}
	}
}

// token68 reports whether s is an RFC 7235 token68, the syntax of a bearer
// token (RFC 6750 §2.1), and of a sane length.
func token68(s string) bool {
	if s == "" || len(s) > 8192 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		case c == '=' && i > 0: // trailing padding only
			for _, d := range s[i:] {
				if d != '=' {
					return false
				}
			}
			return true
		default:
			return false
		}
	}
	return true
}

// refuse writes an RFC 6750 error response: a Bearer challenge naming the
// realm, the error code and, for insufficient_scope, the scope needed.
func (g *Gateway) refuse(w http.ResponseWriter, e *protocol.Error, scope string) {
	if e.Status == http.StatusUnauthorized || e.Code == "insufficient_scope" || e.Code == "invalid_request" {
		c := protocol.Challenge("Bearer", g.Realm, e)
		if scope != "" {
			c += `, scope="` + scope + `"`
		}
		w.Header().Set("WWW-Authenticate", c)
	}
	protocol.WriteError(w, e, nil)
}

// budget is the one a request draws from.
type budget struct {
	all   store.RateLimits // both, for RateLimit-Policy
	class string           // "read" or "write"
	quota store.Quota
	key   string // the limiter key
}

// budget picks the caller's read or write budget: the route's own if it has
// one for this class (kept apart from the caller's general one), else the
// client's, its tenant's or the defaults.
func (g *Gateway) budget(t *Table, m *match, p *authn.Principal, write bool) budget {
	b := budget{all: fill(p.Limits, t.Defaults), class: "read", key: p.RateKey}
	own := m.route.Budgets
	if own != nil {
		b.all = fill(*own, b.all)
	}
	b.quota = b.all.Read
	if write {
		b.class, b.quota = "write", b.all.Write
	}
	if own != nil && (write && own.Write.Count > 0 || !write && own.Read.Count > 0) {
		b.key += "|route=" + m.route.Name
	}
	b.key += "|" + b.class
	return b
}

// charge takes one request from the budget, sets the RateLimit header, and
// answers 429 (or 503 when the shared limiter is down and the gateway
// fails closed) when the request may not pass.
func (g *Gateway) charge(w http.ResponseWriter, r *http.Request, route *Route, b budget, clientID string) bool {
	res, err := g.Limiter.Allow(r.Context(), b.key, limit(b.quota))
	if err != nil {
		if r.Context().Err() != nil {
			return false // the caller left; nobody to answer
		}
		g.Metrics.decide(route.Name, decUnavailable)
		if !errors.Is(err, ratelimit.ErrUnavailable) {
			g.Log.Error("gateway: rate limiter failed", "err", err)
		}
		protocol.WriteError(w, protocol.ErrUnavailable.WithDescription("rate limiting is unavailable; retry shortly").
			WithRetryAfter(time.Second), nil)
		return false
	}
	w.Header().Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", b.class, res.Remaining, seconds(res.Reset)))
	if !res.Allowed {
		g.Metrics.decide(route.Name, decLimited)
		if g.Limited != nil && clientID != "" {
			g.Limited(clientID, g.Now())
		}
		// Retry-After is rounded up: a client that waits that long passes.
		protocol.WriteError(w, protocol.ErrTooManyRequests.WithDescription(
			fmt.Sprintf("the %s budget of %d requests per %s is spent", b.class, b.quota.Count, b.quota.Per)).
			WithRetryAfter(max(res.RetryAfter, time.Second)), nil)
		return false
	}
	return true
}

// policy renders RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers-10).
func policy(b store.RateLimits) string {
	return fmt.Sprintf(`"read";q=%d;w=%d, "write";q=%d;w=%d`,
		b.Read.Count, seconds(b.Read.Per), b.Write.Count, seconds(b.Write.Per))
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// streamLimit bounds how long one proxied exchange may stream.
const streamLimit = time.Hour

type forwardKey struct{}

// forward is what the proxy's Rewrite needs to know of a request.
type forward struct {
	match     match
	principal *authn.Principal
	https     bool   // the caller came over HTTPS, here or at a trusted proxy
	ip        string // the caller's address, through trusted proxies
}

// clientAddressHeaders are headers that name the caller's address to an
// upstream; a caller's own are dropped, and X-Real-IP is set to the address
// the gateway saw (Forwarded is dropped: X-Forwarded-For says it).
var clientAddressHeaders = []string{"X-Real-Ip", "Forwarded", "True-Client-Ip", "X-Client-Ip", "Cf-Connecting-Ip",
	"Fastly-Client-Ip", "X-Cluster-Client-Ip"}

// spoofable reports whether a caller's header could pass for one the
// gateway vouches for: any X-Gatehouse-* or X-Forwarded-* in any letter
// case, with '_' for '-' too, and the underscore spellings of Forwarded,
// X-Real-IP and Authorization, which CGI-style servers (WSGI, Rack, PHP)
// fold into the same variable as the real one.
func spoofable(name string) bool {
	// Every X-Forwarded-* (-Port, -Prefix, -Ssl, -Scheme... which upstream
	// frameworks believe too), not only the three the gateway sets.
	if headerPrefixFold(name, "x-gatehouse-") || headerPrefixFold(name, "x-forwarded-") {
		return true
	}
	return strings.IndexByte(name, '_') >= 0 && (len(name) == len("forwarded") && headerPrefixFold(name, "forwarded") ||
		len(name) == len("authorization") && headerPrefixFold(name, "authorization") ||
		len(name) == len("x-real-ip") && headerPrefixFold(name, "x-real-ip"))
}

// headerPrefixFold reports whether name starts with prefix (lower case,
// '-' separated), ignoring case and reading '_' as '-'. It runs for every
// header of every request, so it does not allocate.
func headerPrefixFold(name, prefix string) bool {
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// unsafePath refuses paths an upstream might read differently from the
// gateway: dot segments (plain or encoded: ServeMux cleans only what was
// sent), their ";" variants, encoded slashes and backslashes, and NUL. The
// tenant and route were decided on the decoded path; the upstream must see
// that same path.
func unsafePath(r *http.Request) string {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return "the path is not in canonical form"
	}
	if raw := strings.ToLower(r.URL.RawPath); strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") {
		return "encoded slashes are not allowed in the path"
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." || strings.HasPrefix(seg, ".;") || strings.HasPrefix(seg, "..;") {
			return "the path is not in canonical form"
		}
	}
	return ""
}

// newProxy builds a route's reverse proxy: its own transport (so the
// route's timeout applies to response headers only, and bodies stream), a
// rewrite that swaps the caller's credentials for identity headers, and
// JSON errors when the upstream fails.
func (g *Gateway) newProxy(route *Route) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport:  NewTransport(route.Timeout),
		BufferPool: &g.buffers,
		Rewrite:    rewrite,
		ModifyResponse: func(resp *http.Response) error {
			// The gateway's rate-limit headers are the ones that count.
			resp.Header.Del("RateLimit")
			resp.Header.Del("RateLimit-Policy")
			// A signed link's file must not outlive the link in a shared cache.
			if f := resp.Request.Context().Value(forwardKey{}).(*forward); f.principal.Kind == credential.SignedLink {
				resp.Header.Set("Cache-Control", "private, no-store")
			}
			return nil
		},
		ErrorHandler: g.upstreamFailed,
		ErrorLog:     slog.NewLogLogger(g.Log.Handler(), slog.LevelWarn),
	}
}

// NewTransport is the transport each route's proxy gets: a deep pool of
// keep-alive connections, never an environment proxy (upstreams are ours),
// and headerTimeout bounding the wait for response headers only. The bare
// reverse proxy that `gatehouse bench` measures against uses it too.
func NewTransport(headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

func rewrite(pr *httputil.ProxyRequest) {
	f := pr.In.Context().Value(forwardKey{}).(*forward)
	m, p := &f.match, f.principal
	up := m.upstream()
	out := pr.Out
	out.URL.Scheme, out.URL.Host = up.Scheme, up.Host
	out.URL.Path, out.URL.RawPath = up.Path+m.path, ""
	q := out.URL.Query()
	if q.Has(linkSig) {
		for _, k := range linkParams {
			q.Del(k)
		}
		out.URL.RawQuery = q.Encode()
	}
	out.Host = "" // the upstream's own host name

	h := out.Header
	h.Del("Authorization")
	for k := range h {
		if spoofable(k) {
			delete(h, k)
		}
	}
	for _, k := range clientAddressHeaders {
		delete(h, k)
	}
	pr.SetXForwarded() // after the strip: For, Host and Proto are the gateway's
	h.Set("X-Real-Ip", f.ip)
	if f.https {
		h.Set("X-Forwarded-Proto", "https") // TLS ended at a trusted proxy
	}
	tenant := m.tenant
	if tenant == "" {
		tenant = p.Tenant
	}
	h.Set(HeaderSubject, p.Subject)
	if tenant != "" {
		h.Set(HeaderTenant, tenant)
	}
	if p.ClientID != "" {
		h.Set(HeaderClient, p.ClientID)
	}
	h.Set(HeaderScopes, strings.Join(p.Scopes, " "))
	h.Set(HeaderAuth, string(p.Kind))
	if m.version != nil {
		h.Set(HeaderVersion, m.version.Name)
	}
}

// upstreamFailed answers 504 when the upstream was too slow, 413 when the
// body outgrew the route's limit, and 502 otherwise.
func (g *Gateway) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	f := r.Context().Value(forwardKey{}).(*forward)
	route := f.match.route.Name
	var tooBig *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooBig):
		g.Metrics.upstreamError(route, "body_too_large")
		protocol.WriteError(w, protocol.ErrRequestTooLarge.WithDescription(
			fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit)), nil)
	case r.Context().Err() != nil:
		g.Metrics.upstreamError(route, "client_gone") // nobody to answer
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		g.Metrics.upstreamError(route, "timeout")
		g.Log.Warn("gateway: upstream timed out", "route", route, "err", err)
		protocol.WriteJSON(w, http.StatusGatewayTimeout, map[string]string{"error": "upstream_timeout",
			"error_description": "the API did not answer in time"})
	default:
		g.Metrics.upstreamError(route, "unavailable")
		g.Log.Warn("gateway: upstream failed", "route", route, "err", err)
		protocol.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": "upstream_unavailable",
			"error_description": "the API is unavailable"})
	}
}

// TenantGrants are those of the routing table in force (Table.TenantGrants).
func (g *Gateway) TenantGrants() (scopes, audiences []string) {
	if t := g.table.Load(); t != nil {
		return t.TenantGrants()
	}
	return nil, nil
}
