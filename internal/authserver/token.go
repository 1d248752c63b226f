package authserver

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// token is POST /oauth2/token (RFC 6749 §3.2).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	grantType := "unknown"
	fail := func(e *protocol.Error) {
		s.Issued.WithLabelValues(grantType, e.Code).Inc()
		protocol.WriteError(w, e, s.Log)
	}
	// RFC 8707 §2: "Multiple resource parameters MAY be used".
	p, perr := protocol.ParseBody(w, r, "resource")
	if perr != nil {
		fail(perr)
		return
	}
	// grant_type REQUIRED (RFC 6749 §4.4.2).
	gt := p.Get("grant_type")
	g, ok := s.grants[gt]
	switch {
	case gt == "":
		fail(protocol.ErrInvalidRequest.WithDescription("grant_type is required"))
		return
	case !ok:
		fail(protocol.ErrUnsupportedGrantType.WithDescription("grant_type " + strings.Join(s.supportedGrants(), " or ") + " only"))
		return
	}
	grantType = gt
	c, perr := s.authenticateClient(r, p)
	if perr != nil {
		fail(perr)
		return
	}
	// RFC 6749 §5.2 unauthorized_client: "The authenticated client is not
	// authorized to use this authorization grant type."
	// A refresh token comes with the authorization_code grant.
	if !slices.Contains(c.Client.Grants, gt) && !(gt == credential.GrantRefreshToken && slices.Contains(c.Client.Grants, credential.GrantAuthorizationCode)) {
		fail(protocol.ErrUnauthorizedClient.WithDescription("this client may not use grant_type " + gt))
		return
	}
	req, finish, perr := g(r.Context(), c, p)
	if perr != nil {
		fail(perr)
		return
	}
	if q := c.Client.IssueQuota; q.Count > 0 {
		res, err := s.Quota.Allow(r.Context(), "issue:"+c.Client.ID, ratelimit.Limit{Count: q.Count, Period: q.Per})
		if err != nil {
			fail(protocol.ErrUnavailable.WithDescription("quota check unavailable"))
			return
		}
		if !res.Allowed {
			fail(protocol.ErrTooManyRequests.WithRetryAfter(res.RetryAfter).
				WithDescription("token issuance quota exceeded: reuse the access token until it expires"))
			return
		}
	}
	minted, err := s.Tokens.Mint(r.Context(), *req)
	if err != nil {
		fail(protocol.AsError(err, s.Log))
		return
	}
	resp := tokenResponse{AccessToken: minted.Token, TokenType: "Bearer", ExpiresIn: int64(req.TTL.Seconds()), Scope: req.Scope}
	if finish != nil {
		if perr := finish(r.Context(), minted, &resp); perr != nil {
			fail(perr)
			return
		}
	}
	s.Clients.RecordIssued(c.Client.ID, s.Now())
	s.Issued.WithLabelValues(grantType, "issued").Inc()
	protocol.WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) supportedGrants() []string {
	out := make([]string, 0, len(s.grants))
	for g := range s.grants {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// authenticateClient implements RFC 6749 §2.3.1: HTTP Basic (client_secret_basic)
// or client_id and client_secret in the body (client_secret_post), never both.
// Failures are one invalid_client whatever the cause, so a caller cannot
// tell an unknown client from a wrong secret; the cause goes to the
// activity log.
func (s *Server) authenticateClient(r *http.Request, p protocol.Params) (*clients.Resolved, *protocol.Error) {
	id, sec, perr := credentialsFrom(r, p)
	if perr != nil {
		return nil, perr
	}
	// RFC 6749 §5.2 requires WWW-Authenticate when the client used the
	// Authorization header; HTTP (RFC 9110 §15.5.2) requires one on every
	// 401, so client_secret_post failures get the Basic challenge too.
	invalid := protocol.ErrInvalidClient.WithDescription("client authentication failed").WithChallenge("Basic")
	if id == "" || sec == "" {
		return nil, invalid
	}
	c, err := s.Clients.Authenticate(r.Context(), id, sec)
	var reason string
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, clients.ErrMalformed):
		reason = "malformed id or secret"
	case errors.Is(err, clients.ErrUnknown):
		reason = "unknown client"
	case errors.Is(err, clients.ErrBadSecret):
		reason = "wrong secret"
	default:
		return nil, protocol.AsError(err, s.Log)
	}
	tenantID := "" // the event goes to the client's tenant when there is one
	if reason == "wrong secret" {
		if rc, _ := s.Clients.Get(r.Context(), id); rc != nil {
			tenantID = rc.Tenant.ID
		}
	}
	who := describeID(id)
	ev := audit.New(r.Context(), s.Now(), tenantID, "client:"+who, audit.ClientAuthFailed, who, audit.Failure)
	ev.Detail = map[string]any{"reason": reason}
	s.Audit.Record(ev)
	return nil, invalid
}

// describeID names a presented client id for the activity log. An id that is
// in fact one of our secrets (id and secret swapped, a common Basic-auth
// mistake) is recorded by its non-secret hint only.
func describeID(id string) string {
	if _, err := secret.KindOf(id); err == nil {
		return secret.Hint(id) + "… (a secret, not an id)"
	}
	return protocol.Clean(id, 64)
}

// credentialsFrom extracts the client's id and secret from the request.
func credentialsFrom(r *http.Request, p protocol.Params) (id, sec string, _ *protocol.Error) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return p.Get("client_id"), p.Get("client_secret"), nil
	}
	scheme, payload := protocol.AuthScheme(authz)
	if scheme != "basic" {
		return "", "", protocol.ErrInvalidClient.WithChallenge("Basic").WithDescription("use HTTP Basic or client_secret_post")
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return "", "", protocol.ErrInvalidClient.WithChallenge("Basic").WithDescription("malformed Basic credentials")
	}
	u, pw, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", protocol.ErrInvalidClient.WithChallenge("Basic").WithDescription("malformed Basic credentials")
	}
	// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
	if u, err = url.QueryUnescape(u); err == nil {
		pw, err = url.QueryUnescape(pw)
	}
	if err != nil {
		return "", "", protocol.ErrInvalidClient.WithChallenge("Basic").WithDescription("malformed Basic credentials")
	}
	// RFC 6749 §2.3: "The client MUST NOT use more than one authentication
	// method in each request." A client_id in the body that repeats the
	// Basic one is tolerated (some libraries send it); a secret is not.
	if p.Get("client_secret") != "" || (p.Get("client_id") != "" && p.Get("client_id") != u) {
		return "", "", protocol.ErrInvalidRequest.WithDescription("use one client authentication method, not both")
	}
	return u, pw, nil
}

func truncate(s string, n int) string { return protocol.Clean(s, n) }
