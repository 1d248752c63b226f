package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/sessions"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// Users is what the user-delegated grants need of the users domain.
type Users interface {
	// Login checks an email and password in a tenant.
	Login(ctx context.Context, tenantID, email, password string) (*store.User, error)
	Get(ctx context.Context, tenantID, userID string) (*store.User, error)
	// Scopes is what the user's roles grant.
	Scopes(ctx context.Context, u *store.User) ([]string, error)
	// HasAPIAccess: super, or api_enabled on the user or one of their groups.
	HasAPIAccess(ctx context.Context, u *store.User) (bool, error)
}

var (
	errBadCode    = protocol.ErrInvalidGrant.WithDescription("the authorization code is invalid, expired, or for another client")
	errBadRefresh = protocol.ErrInvalidGrant.WithDescription("the refresh token is invalid, expired or revoked")
)

// authorizationCode is the authorization_code grant (RFC 6749 §4.1.3 with
// RFC 7636 PKCE): the code is checked against the client, the redirect URI
// and the code verifier; redeeming it starts a refresh family. A code
// presented twice revokes what its first redemption issued.
func (s *Server) authorizationCode(ctx context.Context, c *clients.Resolved, p protocol.Params) (*token.Request, finisher, *protocol.Error) {
	code, verifier := p.Get("code"), p.Get("code_verifier")
	if code == "" {
		return nil, nil, protocol.ErrInvalidRequest.WithDescription("code is required")
	}
	digest := secret.Hash(code).String()
	ac, err := s.Store.GetAuthCode(ctx, digest)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, errBadCode
	case err != nil:
		return nil, nil, protocol.AsError(err, s.Log)
	}
	now := s.Now()
	switch err := sessions.CheckCode(ac, c.Client.ID, p.Get("redirect_uri"), verifier, now); {
	case errors.Is(err, sessions.ErrBadCode):
		return nil, nil, errBadCode
	case errors.Is(err, sessions.ErrRedirectMismatch):
		return nil, nil, protocol.ErrInvalidGrant.WithDescription("redirect_uri does not match the authorization request")
	case errors.Is(err, sessions.ErrVerifier):
		return nil, nil, protocol.ErrInvalidGrant.WithDescription("code_verifier does not match the code_challenge (RFC 7636)")
	}
	u, userScopes, perr := s.apiUser(ctx, ac.TenantID, ac.UserID)
	if perr != nil {
		return nil, nil, perr
	}
	// What was consented, as far as the client and the user's roles still
	// allow it now (a role may have gone in the code's minute).
	scope, err := sessions.Narrow(ac.Scope, "", c.Client.Scopes, authn.Grantable(userScopes))
	if err != nil {
		return nil, nil, errScopeLost
	}
	// The family's id is the sid of every token minted from it, so that
	// ending the family denies them all.
	famID := secret.NewID("rf")
	req := s.userTokenRequest(c, u, scope, famID)
	finish := func(ctx context.Context, m *token.Minted, resp *tokenResponse) *protocol.Error {
		rt := secret.New(secret.RefreshToken)
		fam := &store.RefreshFamily{ID: famID, ClientID: c.Client.ID, TenantID: c.Tenant.ID, UserID: u.ID,
			Scope: ac.Scope, Nonce: ac.Nonce, AuthTime: ac.AuthTime, CreatedAt: now, ExpiresAt: now.Add(s.familyLifetime(c.Tenant)),
			Generation: 1, RotatedAt: now, AccessTokens: sessions.Issued(nil, m.Claims.ID, m.Claims.ExpiresAt(), now)}
		ev := audit.New(ctx, now, c.Tenant.ID, "user:"+u.ID, audit.OAuthCodeRedeem, c.Client.ID, audit.Success)
		reuse := audit.New(ctx, now, c.Tenant.ID, "client:"+c.Client.ID, audit.OAuthCodeReuse, c.Client.ID, audit.Failure)
		reuse.Detail = map[string]any{"user": u.ID, "action": "revoked the tokens issued for the code"}
		switch err := s.Store.RedeemAuthCode(ctx, digest, now, fam, secret.Hash(rt).String(), ev, reuse); {
		case errors.Is(err, store.ErrReused):
			return protocol.ErrInvalidGrant.WithDescription("the authorization code was already used; the tokens issued for it are revoked")
		case errors.Is(err, store.ErrNotFound):
			return errBadCode
		case err != nil:
			return protocol.AsError(err, s.Log)
		}
		resp.RefreshToken = rt
		id, err := s.idToken(c.Client.ID, c.Tenant.Name, u, scope, ac.Nonce, ac.AuthTime, m)
		if err != nil {
			return protocol.AsError(err, s.Log)
		}
		resp.IDToken = id
		return nil
	}
	return req, finish, nil
}

// errScopeLost ends a session whose user (or client) no longer holds any
// of the scopes it was granted.
var errScopeLost = protocol.ErrInvalidGrant.WithDescription(
	"the user or the client no longer holds any of the scopes this authorization granted: authorize again")

// refreshToken is the refresh_token grant (RFC 6749 §6) with rotation
// (RFC 9700 §4.14.2), decided by sessions.Decide: the presented token must
// be its family's current one; the family moves on one generation and the
// client gets a new pair. A token presented again after its rotation
// revokes the family, except a retry of the immediately previous token
// within the grace window, which gets the very same pair again. The new
// access token carries at most what the family was granted, as far as the
// client and the user's roles allow it now (sessions.Narrow); a family
// whose holder lost every scope it was granted ends.
func (s *Server) refreshToken(ctx context.Context, c *clients.Resolved, p protocol.Params) (*token.Request, finisher, *protocol.Error) {
	raw := p.Get("refresh_token")
	if raw == "" {
		return nil, nil, protocol.ErrInvalidRequest.WithDescription("refresh_token is required")
	}
	if secret.Parse(raw, secret.RefreshToken) != nil {
		return nil, nil, errBadRefresh
	}
	digest := secret.Hash(raw).String()
	// A first read says whom to mint for; the decision is taken again
	// under the family's lock below.
	f, _, err := s.Store.GetFamilyByToken(ctx, digest)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, errBadRefresh
	case err != nil:
		return nil, nil, protocol.AsError(err, s.Log)
	}
	// RFC 6749 §6: the token was issued to the authenticated client.
	if f.ClientID != c.Client.ID || f.APIKeyID != "" {
		return nil, nil, errBadRefresh
	}
	u, userScopes, perr := s.apiUser(ctx, f.TenantID, f.UserID)
	if perr != nil {
		return nil, nil, perr
	}
	scope, err := sessions.Narrow(f.Scope, p.Get("scope"), c.Client.Scopes, authn.Grantable(userScopes))
	var wider *sessions.ErrWider
	switch {
	case errors.As(err, &wider): // RFC 6749 §6: narrower only
		return nil, nil, protocol.ErrInvalidScope.WithDescription("scope " + truncate(wider.Scope, 64) + " was not granted by the user")
	case errors.Is(err, sessions.ErrScopeLost):
		return nil, nil, s.endLostFamily(ctx, f, c)
	}
	req := s.userTokenRequest(c, u, scope, f.ID)
	finish := func(ctx context.Context, m *token.Minted, resp *tokenResponse) *protocol.Error {
		now := s.Now()
		next := secret.New(secret.RefreshToken)
		policy := sessions.Policy{Grace: s.refreshGrace(c.Tenant)}
		var outcome *protocol.Error
		var replay *tokenResponse
		_, err := s.Store.UpdateFamilyByToken(ctx, digest, func(f *store.RefreshFamily, gen int64) (string, *store.Event, error) {
			d := sessions.Decide(f, gen, now, policy)
			if d.Outcome == sessions.Replay {
				// A retry of a response that was lost: the same pair again.
				if b, err := s.Sealer.Open(f.Replay, []byte(f.ID)); err == nil && json.Unmarshal(b, &replay) == nil {
					return "", nil, nil
				}
				d.Outcome = sessions.Reused
			}
			switch d.Outcome {
			case sessions.Revoked:
				outcome = errBadRefresh
			case sessions.Ended:
				outcome = protocol.ErrInvalidGrant.WithDescription("the session ended: authorize again")
			case sessions.Reused:
				// Someone else may hold the family (RFC 9700 §4.14.2): end
				// it for everyone.
				sessions.End(f, now)
				outcome = protocol.ErrInvalidGrant.WithDescription("the refresh token was already used; the session is revoked")
				ev := audit.New(ctx, now, f.TenantID, "client:"+c.Client.ID, audit.OAuthRefreshReuse, f.ID, audit.Failure)
				ev.Detail = map[string]any{"user": f.UserID, "presented_generation": gen, "current_generation": f.Generation}
				return "", &ev, nil
			case sessions.Rotate:
				var sealed []byte
				if policy.Grace > 0 {
					out := *resp
					out.RefreshToken = next
					sealed = s.Sealer.Seal(mustJSON(out), []byte(f.ID))
				}
				sessions.Advance(f, now, m.Claims.ID, m.Claims.ExpiresAt(), sealed)
				return secret.Hash(next).String(), nil, nil
			}
			return "", nil, nil
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			return errBadRefresh
		case err != nil:
			return protocol.AsError(err, s.Log)
		case outcome != nil:
			return outcome
		case replay != nil:
			*resp = *replay
			return nil
		}
		resp.RefreshToken = next
		return nil
	}
	return req, finish, nil
}

// endLostFamily ends a family whose holder lost every scope it granted.
func (s *Server) endLostFamily(ctx context.Context, f *store.RefreshFamily, c *clients.Resolved) *protocol.Error {
	ev := audit.New(ctx, s.Now(), f.TenantID, "client:"+c.Client.ID, audit.OAuthFamilyRevoke, f.ID, audit.Success)
	ev.Detail = map[string]any{"user": f.UserID, "reason": "the user or the client lost every scope the authorization granted"}
	if _, err := s.Store.RevokeFamilies(ctx, store.FamilyFilter{ID: f.ID}, s.Now(), ev); err != nil {
		return protocol.AsError(err, s.Log)
	}
	return errScopeLost
}

// familyLifetime and refreshGrace are the tenant's settings, else the
// server's.
func (s *Server) familyLifetime(t *store.Tenant) time.Duration {
	if l := t.Settings.SessionLifetime; l > 0 {
		return l
	}
	return s.FamilyLifetime
}

func (s *Server) refreshGrace(t *store.Tenant) time.Duration {
	if g := t.Settings.RefreshGrace; g > 0 {
		return g
	}
	return s.RefreshGrace
}

// apiUser loads the user a code or family acts for, who must still exist
// and still have API access, with the scopes their roles grant now.
func (s *Server) apiUser(ctx context.Context, tenantID, userID string) (*store.User, []string, *protocol.Error) {
	u, err := s.Users.Get(ctx, tenantID, userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, protocol.ErrInvalidGrant.WithDescription("the user no longer exists")
		}
		return nil, nil, protocol.AsError(err, s.Log)
	}
	ok, err := s.Users.HasAPIAccess(ctx, u)
	if err != nil {
		return nil, nil, protocol.AsError(err, s.Log)
	}
	if !ok {
		return nil, nil, protocol.ErrInvalidGrant.WithDescription("the user has no API access")
	}
	scopes, err := s.Users.Scopes(ctx, u)
	if err != nil {
		return nil, nil, protocol.AsError(err, s.Log)
	}
	if scopes == nil {
		scopes = []string{}
	}
	return u, scopes, nil
}

// userTokenRequest is an access token acting for u through client c, from
// the refresh family family.
func (s *Server) userTokenRequest(c *clients.Resolved, u *store.User, scope, family string) *token.Request {
	aud := slices.Clone(c.Client.Audiences)
	if len(aud) == 0 {
		aud = []string{s.Issuer}
	}
	return &token.Request{ClientID: c.Client.ID, TenantID: c.Tenant.ID, Tenant: c.Tenant.Name, Orgs: []string{c.Tenant.Name},
		Subject: u.ID, Audience: aud, Scope: scope, Auth: credential.AuthorizationCode, TTL: c.TTL(s.DefaultTTL),
		Format: c.Client.TokenFormat, SessionID: family}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("authserver: marshal: " + err.Error())
	}
	return b
}
