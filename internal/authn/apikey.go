package authn

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// APIKeyClientPrefix marks an API-key session's access token: its
// client_id claim is this prefix and the API key's id.
const APIKeyClientPrefix = "ak:"

// apiKeyToken resolves an API-key session's access token: the key must
// be live; bound to a user, the token acts with its scopes as far as the
// user's roles still grant them; bound to a client, as far as the client
// still has them. The session (sid) was checked against the deny list.
func (a *Authenticator) apiKeyToken(ctx context.Context, c *token.Claims, now time.Time) (*Principal, error) {
	id, ok := strings.CutPrefix(c.ClientID, APIKeyClientPrefix)
	if !ok || a.APIKeys == nil {
		return nil, ErrInvalid
	}
	k, err := a.apiKey(ctx, id, now)
	if err != nil {
		return nil, err
	}
	switch k.Status(now) {
	case store.PATRevoked:
		return nil, ErrRevoked
	case store.PATExpired:
		return nil, invalid("the API key expired")
	}
	if k.ClientID != "" {
		owner, err := a.client(ctx, k.ClientID)
		if err != nil {
			return nil, err
		}
		p := a.forClient(c, owner)
		p.APIKeyID, p.RateKey = k.ID, "apikey:"+k.ID
		return p, nil
	}
	t, err := a.tenant(ctx, "id:", k.TenantID, now)
	if err != nil {
		return nil, err
	}
	h, err := a.user(ctx, k.TenantID, k.UserID, now)
	if err != nil {
		return nil, err
	}
	scopes := c.Scopes()
	if c.Scope == "" {
		// A session token from before sessions carried their scope: it
		// acted with the user's roles, as it still may (logins now refuse
		// a user whose roles grant nothing, so an empty scope is never
		// minted).
		scopes = h.scopes
	}
	return &Principal{Kind: c.Auth, Subject: h.user.ID, UserID: h.user.ID, APIKeyID: k.ID, TokenID: c.ID, SessionID: c.SessionID,
		Tenant: t.Name, TenantID: t.ID, Orgs: []string{t.Name}, Scopes: Intersect(scopes, h.scopes), Audience: c.Audience,
		Limits: limits(h.user.RateLimits, t.Settings.RateLimits), RateKey: "apikey:" + k.ID,
		Expiry: c.ExpiresAt(), IssuedAt: c.IssuedAt.Time()}, nil
}

// apiKey finds a key by id, or remembers having done so (CacheTTL).
func (a *Authenticator) apiKey(ctx context.Context, id string, now time.Time) (*store.APIKey, error) {
	return lookup(a, a.apiKeys, id, now, func() (*store.APIKey, error) { return a.APIKeys.GetAPIKey(ctx, id) })
}
