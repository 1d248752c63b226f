package authserver

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/token"
)

// clientCredentials is the client_credentials grant (RFC 6749 §4.4): the
// client acts for itself, so the subject is the client id.
func (s *Server) clientCredentials(_ context.Context, c *clients.Resolved, p protocol.Params) (*token.Request, finisher, *protocol.Error) {
	scope, perr := grantedScope(c, p.Get("scope"))
	if perr != nil {
		return nil, nil, perr
	}
	aud, perr := s.audience(c, p)
	if perr != nil {
		return nil, nil, perr
	}
	return &token.Request{
		ClientID: c.Client.ID, TenantID: c.Tenant.ID, Tenant: c.Tenant.Name, Orgs: slices.Clone(c.Orgs), Subject: c.Client.ID,
		Audience: aud, Scope: scope, Auth: credential.ClientCredentials, TTL: c.TTL(s.DefaultTTL), Format: c.Client.TokenFormat,
	}, nil, nil
}

// grantedScope checks a requested scope against the client's. RFC 6749
// §3.3: when scope is omitted the server uses a pre-defined default, here
// every scope the client has.
func grantedScope(c *clients.Resolved, requested string) (string, *protocol.Error) {
	if requested == "" {
		return strings.Join(c.Client.Scopes, " "), nil
	}
	var out []string
	for _, sc := range strings.Fields(requested) {
		if !credential.ValidScope(sc) {
			return "", protocol.ErrInvalidScope.WithDescription("malformed scope")
		}
		if !slices.Contains(c.Client.Scopes, sc) {
			return "", protocol.ErrInvalidScope.WithDescription("scope " + truncate(sc, 64) + " is not allowed for this client")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " "), nil
}

// audience resolves the token's audience from `audience` (the Auth0 and
// Pliant spelling: one value, any string) and `resource` (RFC 8707, the
// standard one: absolute URIs without a fragment, possibly several). Every
// value must be one of the client's registered audiences, else
// invalid_target (RFC 8707 §2). With neither, the token is for every
// registered audience, or for the issuer itself when the client has none.
func (s *Server) audience(c *clients.Resolved, p protocol.Params) ([]string, *protocol.Error) {
	var want []string
	for _, r := range strings.Fields(p.Get("resource")) {
		if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, protocol.ErrInvalidTarget.WithDescription("resource must be an absolute URI without a fragment (RFC 8707 section 2)")
		}
		want = append(want, r)
	}
	if a := p.Get("audience"); a != "" {
		want = append(want, a)
	}
	if len(want) == 0 {
		if len(c.Client.Audiences) == 0 {
			return []string{s.Issuer}, nil
		}
		return slices.Clone(c.Client.Audiences), nil
	}
	var out []string
	for _, a := range want {
		if !slices.Contains(c.Client.Audiences, a) {
			return nil, protocol.ErrInvalidTarget.WithDescription("audience " + truncate(a, 128) + " is not allowed for this client")
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}
