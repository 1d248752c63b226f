// Package gateway is the authenticating reverse proxy in front of the
// platform's own API. Every request with a canonical path is matched to a
// configured route, then, in this order: its bearer credential is verified,
// the API version resolved, the token's audience, the tenant in the path
// and the route's read or write scope checked, and the caller's read or
// write budget charged (GCRA). Only then is it proxied, with trusted
// identity headers in place of the caller's token.
//
// Each step is a check (pipeline.go, with authenticate.go and budget.go)
// that admits the request or returns a refusal; refuse (refuse.go) alone
// counts and answers refusals.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
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

// ServeHTTP is the gateway: everything on the public listener that no
// other handler claimed. The checks run in order (pipeline); the first
// that refuses answers (refuse), and a request every one admits is
// proxied.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r}
	for _, check := range pipeline {
		if f := check(g, x); f != nil {
			g.refuse(x, f)
			return
		}
	}
	g.proxy(x)
}

// proxy counts an admitted request and sends it to its route's upstream,
// the body capped at the route's limit as it streams.
func (g *Gateway) proxy(x *exchange) {
	w, r, route := x.w, x.r, x.m.route
	g.Metrics.decide(route.Name, decAllowed)
	if g.Used != nil && x.p.ClientID != "" {
		g.Used(x.p.ClientID, g.Now())
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, route.MaxBody)
	}
	allowStreaming(w)
	https := r.TLS != nil || g.Proxies.IsHTTPS(r)
	ctx := context.WithValue(r.Context(), forwardKey{}, &forward{match: x.m, principal: x.p, https: https, ip: g.Proxies.ClientIP(r)})
	route.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// allowStreaming lifts the listener's read and write timeouts, which suit
// API calls, not a large upload or download streaming through; the
// upstream's own limits and the route's header timeout apply instead,
// within an hour.
func allowStreaming(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(streamLimit))  //nolint:errcheck // not every writer has deadlines
	rc.SetWriteDeadline(time.Now().Add(streamLimit)) //nolint:errcheck
}

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
