package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/protocol"
)

// exchange is one request on its way through the pipeline: what the
// checks have found so far, each reading what the earlier ones left.
type exchange struct {
	w      http.ResponseWriter
	r      *http.Request
	table  *Table // the routing table in force when the request came
	m      match
	write  bool             // the method writes: the route's write scope and budget
	p      *authn.Principal // the caller, once checkCredential admitted it
	linked bool             // the caller came by signed link
	budget budget
}

// A check admits the request to the next one (nil) or refuses it.
type check func(*Gateway, *exchange) *refusal

// pipeline is the checks in the order they run; never modified. Those that
// need no credential come first, so a request no route would take costs
// no token verification; the budget comes last, so only a request every
// other check admitted spends it.
var pipeline = []check{
	(*Gateway).checkPath,
	(*Gateway).checkRoute,
	(*Gateway).checkMethod,
	(*Gateway).checkUpgrade,
	(*Gateway).checkBodySize,
	(*Gateway).checkCredential,
	(*Gateway).checkVersion,
	(*Gateway).checkAudience,
	(*Gateway).checkTenant,
	(*Gateway).checkScope,
	(*Gateway).checkBudget,
}

// checkPath refuses a path the upstream might read differently from the
// gateway (unsafePath).
func (g *Gateway) checkPath(x *exchange) *refusal {
	if why := unsafePath(x.r); why != "" {
		return refused(decBadRequest, protocol.ErrInvalidRequest.WithDescription(why))
	}
	return nil
}

var errNoRoute = protocol.ErrNotFound.WithDescription("no such endpoint")

// checkRoute finds the route in the table in force, and in its path the
// tenant and version.
func (g *Gateway) checkRoute(x *exchange) *refusal {
	x.table = g.table.Load()
	ok := x.table != nil
	if ok {
		x.m, ok = x.table.match(x.r.URL.Path)
	}
	if !ok {
		return refused(decNotFound, errNoRoute)
	}
	return nil
}

// checkMethod sorts the method into a read or a write: an unknown one, or
// a write to a read-only route, is refused.
func (g *Gateway) checkMethod(x *exchange) *refusal {
	write, known := methodClass(x.r.Method)
	switch {
	case !known:
		return notAllowed(x.m.route, "method "+protocol.Clean(x.r.Method, 20)+" is not allowed")
	case write && x.m.route.WriteScope == "":
		return notAllowed(x.m.route, "this API is read-only")
	}
	x.write = write
	return nil
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

var errUpgrade = protocol.ErrInvalidRequest.WithDescription("protocol upgrades are not proxied")

// checkUpgrade refuses a switched protocol (WebSocket, h2c): it would be a
// tunnel that no later check sees. Refused until a route can opt in.
func (g *Gateway) checkUpgrade(x *exchange) *refusal {
	if x.r.Header.Get("Upgrade") != "" {
		return refused(decBadRequest, errUpgrade)
	}
	return nil
}

// checkBodySize refuses a declared body over the route's limit before any
// of it is read; an undeclared one is capped as it streams (proxy).
func (g *Gateway) checkBodySize(x *exchange) *refusal {
	if limit := x.m.route.MaxBody; x.r.ContentLength > limit {
		return refused(decBadRequest, protocol.ErrRequestTooLarge.WithDescription(
			fmt.Sprintf("the request body is larger than %d bytes", limit)))
	}
	return nil
}

// checkVersion refuses a removed API version; a deprecated one passes,
// saying so on whatever the answer turns out to be.
func (g *Gateway) checkVersion(x *exchange) *refusal {
	v := x.m.version
	switch {
	case v == nil:
		return nil
	case v.Removed:
		return versionRemoved(v, x.m.route.defaultVersion)
	}
	h := x.w.Header()
	if !v.Deprecated.IsZero() {
		h.Set("Deprecation", "@"+strconv.FormatInt(v.Deprecated.Unix(), 10)) // RFC 9745 §2.1
	}
	if !v.Sunset.IsZero() {
		h.Set("Sunset", v.Sunset.UTC().Format(http.TimeFormat)) // RFC 8594 §3
	}
	return nil
}

var errAudience = protocol.ErrInvalidToken.WithDescription("the access token is not meant for this API (audience)")

// checkAudience: RFC 9068 §4, the resource server checks that the token is
// meant for it. A signed link vouches for its path, subject and tenant by
// itself, so it skips this check, checkTenant and checkScope.
func (g *Gateway) checkAudience(x *exchange) *refusal {
	want := x.m.route.Audiences
	if x.linked || len(want) == 0 || slices.ContainsFunc(x.p.Audience, func(a string) bool { return slices.Contains(want, a) }) {
		return nil
	}
	return challenged(decUnauthenticated, errAudience, "")
}

// checkTenant: the token must cover the tenant in the path, compared
// exactly: "Acme" is not "acme".
func (g *Gateway) checkTenant(x *exchange) *refusal {
	if x.linked || x.m.tenant == "" || x.p.Covers(x.m.tenant) {
		return nil
	}
	return challenged(decForbidden, protocol.ErrInsufficientScope.WithDescription(
		fmt.Sprintf("the access token does not cover tenant %q", protocol.Clean(x.m.tenant, 64))), "")
}

// checkScope: the token must carry the route's read or write scope, which
// the challenge then names (RFC 6750 §3.1, insufficient_scope).
func (g *Gateway) checkScope(x *exchange) *refusal {
	need := x.m.route.ReadScope
	if x.write {
		need = x.m.route.WriteScope
	}
	if x.linked || x.p.HasScope(need) {
		return nil
	}
	return challenged(decForbidden, protocol.ErrInsufficientScope.WithDescription("the access token lacks the scope "+need), need)
}

// unsafePath refuses paths an upstream might read differently from the
// gateway (httpx.PathProblem: dot segments and their look-alikes, encoded
// slashes): the tenant and route were decided on the decoded path, and the
// upstream must see that same path.
func unsafePath(r *http.Request) string { return httpx.PathProblem(r) }
