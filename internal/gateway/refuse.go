package gateway

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/protocol"
)

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

// refusal is a check's verdict that a request may not pass: what to count
// and what to answer. Checks build them; refuse alone sends them.
type refusal struct {
	decision string          // the metrics' decision label
	err      *protocol.Error // what to send; nil: the caller left, nobody to answer
	// bearer marks a refusal of the credential or of what it may do, which
	// may carry an RFC 6750 challenge (challenge says when).
	bearer bool
	scope  string      // insufficient_scope: the scope the challenge names
	header http.Header // more response headers (Allow on a 405)
	// extra are members the JSON body carries beside error and
	// error_description (410's current_version); with them, the body is
	// written as is, the description being the gateway's own text.
	extra map[string]string
}

// callerGone ends a request whose caller left before it was answered.
var callerGone = &refusal{}

// refused is a refusal answered with its error alone.
func refused(decision string, e *protocol.Error) *refusal {
	return &refusal{decision: decision, err: e}
}

// challenged is a refusal of the bearer credential or of what it may do.
func challenged(decision string, e *protocol.Error, scope string) *refusal {
	return &refusal{decision: decision, err: e, bearer: true, scope: scope}
}

// notAllowed is a 405, which MUST name the methods the route takes in
// Allow (RFC 9110 §15.5.6).
func notAllowed(route *Route, why string) *refusal {
	allow := "GET, HEAD, OPTIONS"
	if route.WriteScope != "" {
		allow += ", POST, PUT, PATCH, DELETE"
	}
	return &refusal{decision: decBadRequest, err: protocol.ErrMethodNotAllowed.WithDescription(why),
		header: http.Header{"Allow": {allow}}}
}

// versionRemoved is the 410 for a removed (or never declared) version,
// naming the current one so a client knows where to go.
func versionRemoved(v, current *Version) *refusal {
	return &refusal{decision: decGone, err: &protocol.Error{Code: "version_removed", Status: http.StatusGone,
		Description: "API version " + v.Name + " is no longer available; the current version is " + current.Name},
		extra: map[string]string{"current_version": current.Name}}
}

// refuse is the one place a refusal is counted and answered: the check's
// headers, the Bearer challenge when it has one, and the RFC 6749 §5.2
// JSON error (with any extra members).
func (g *Gateway) refuse(x *exchange, f *refusal) {
	if f.err == nil {
		return // nothing to count, nobody to answer
	}
	g.Metrics.decide(x.routeName(), f.decision)
	h := x.w.Header()
	for k, vs := range f.header {
		h[k] = vs
	}
	if c := g.challenge(f); c != "" {
		h.Set("WWW-Authenticate", c)
	}
	if f.extra != nil {
		protocol.WriteJSON(x.w, f.err.Status, f.body())
		return
	}
	protocol.WriteError(x.w, f.err, nil)
}

// challenge is a bearer refusal's WWW-Authenticate value, "" for none.
// RFC 6750 §3: a 401 MUST carry one; so do the refusals with a §3.1 code
// (invalid_request, insufficient_scope), which the value names, and the
// scope needed for insufficient_scope. Other refusals (a missing route,
// a method, a size, a budget) are not about the token and carry none.
func (g *Gateway) challenge(f *refusal) string {
	e := f.err
	if !f.bearer || e.Status != http.StatusUnauthorized && e.Code != "insufficient_scope" && e.Code != "invalid_request" {
		return ""
	}
	c := protocol.Challenge("Bearer", g.Realm, e)
	if f.scope != "" {
		c += `, scope="` + f.scope + `"`
	}
	return c
}

// body is the JSON body of a refusal with extra members.
func (f *refusal) body() map[string]string {
	b := map[string]string{"error": f.err.Code, "error_description": f.err.Description}
	for k, v := range f.extra {
		b[k] = v
	}
	return b
}

// routeName labels the metrics: "none" until a route is found.
func (x *exchange) routeName() string {
	if x.m.route == nil {
		return "none"
	}
	return x.m.route.Name
}
