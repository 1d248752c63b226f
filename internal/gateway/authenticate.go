package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/protocol"
)

// checkCredential finds out who is calling. From here on every answer
// names the caller's budgets in RateLimit-Policy, refusals included.
func (g *Gateway) checkCredential(x *exchange) *refusal {
	p, linked, f := g.authenticate(x.r, &x.m)
	if f != nil {
		return f
	}
	x.p, x.linked = p, linked
	x.budget = g.budget(x.table, &x.m, p, x.write)
	x.w.Header().Set("RateLimit-Policy", policy(x.budget.all))
	return nil
}

var (
	errNoToken = &protocol.Error{Code: "missing_token", Status: http.StatusUnauthorized,
		Description: "send an access token as Authorization: Bearer <token>"}
	errQueryToken = protocol.ErrInvalidRequest.WithDescription(
		"access tokens are accepted only in the Authorization header, never in the URL")
	errTwoHeaders   = protocol.ErrInvalidRequest.WithDescription("more than one Authorization header")
	errMalformed    = protocol.ErrInvalidToken.WithDescription("the access token is malformed")
	errCannotVerify = protocol.ErrUnavailable.WithDescription("the token cannot be checked right now; retry").
			WithRetryAfter(time.Second)
)

// authenticate finds and verifies the caller's credential: a bearer token
// in the Authorization header only (RFC 6750 §2.1; §2.3's query parameter
// would leave it in logs), or, for a GET with no Authorization header at
// all, a signed link. linked reports the latter.
func (g *Gateway) authenticate(r *http.Request, m *match) (p *authn.Principal, linked bool, f *refusal) {
	var q url.Values // nil (nothing to find) for the usual query-less call
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	if q.Has("access_token") {
		return nil, false, challenged(decBadRequest, errQueryToken, "")
	}
	hs := r.Header.Values("Authorization")
	if len(hs) == 0 && g.Links != nil && q.Has(linkSig) {
		p, f = g.followLink(r, m)
		return p, f == nil, f
	}
	p, f = g.verifyBearer(r.Context(), hs, m.tenant)
	return p, false, f
}

// followLink verifies a signed link, which stands in for a token.
func (g *Gateway) followLink(r *http.Request, m *match) (*authn.Principal, *refusal) {
	p, err := g.Links.verify(r, m)
	if err != nil {
		return nil, challenged(decForbidden, &protocol.Error{Code: "invalid_link", Status: http.StatusForbidden,
			Description: err.Error()}, "")
	}
	return p, nil
}

// verifyBearer reads the one Authorization header's bearer token and asks
// the authenticator about it, on the route's tenant.
func (g *Gateway) verifyBearer(ctx context.Context, hs []string, tenant string) (*authn.Principal, *refusal) {
	switch {
	case len(hs) > 1:
		return nil, challenged(decBadRequest, errTwoHeaders, "")
	case len(hs) == 0:
		return nil, challenged(decUnauthenticated, errNoToken, "")
	}
	scheme, tok := protocol.AuthScheme(hs[0])
	if scheme != "bearer" {
		return nil, challenged(decUnauthenticated, errNoToken, "")
	}
	if !token68(tok) {
		return nil, challenged(decUnauthenticated, errMalformed, "")
	}
	p, err := g.Auth.AuthenticateFor(ctx, tok, tenant)
	if err != nil {
		return nil, g.unverified(err)
	}
	return p, nil
}

// unverified is the refusal for the authenticator's error: a verdict on
// the token is invalid_token (RFC 6750 §3.1), a user without API access
// lacks a right rather than a credential, and anything else means the
// token could not be checked, which a retry may mend.
func (g *Gateway) unverified(err error) *refusal {
	var pe *protocol.Error
	if errors.As(protocol.BearerError(err), &pe) {
		pe = pe.WithChallenge("") // refuse writes the gateway's own, with its realm
		switch pe.Status {
		case http.StatusForbidden:
			return challenged(decForbidden, pe, "")
		case http.StatusUnauthorized:
			return challenged(decUnauthenticated, pe, "")
		}
	}
	c := problem.Classify(err)
	c.Log = max(c.Log, slog.LevelWarn)
	c.Logf(g.Log, "gateway: cannot verify a token")
	return refused(decUnavailable, errCannotVerify)
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
