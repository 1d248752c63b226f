package authn

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// APIKeyClientPrefix marks an API-key session's access token: its
// client_id claim is this prefix and the API key's id.
const APIKeyClientPrefix = "ak:"

// APIKeys is what authn needs to resolve API-key session tokens.
type APIKeys interface {
	GetAPIKey(ctx context.Context, id string) (*store.APIKey, error)
}

type apiKeyEntry struct {
	key   *store.APIKey
	err   error
	until time.Time
}

// authenticateAPIKey resolves a verified token with auth "api_key": the
// key (looked up by id, cached for CacheTTL) must not be revoked, and
// its user must exist and have API access now, or its client must still
// exist. Ending a session denies its access tokens' jtis, which the
// caller has checked.
func (a *Authenticator) authenticateAPIKey(ctx context.Context, c *token.Claims, now time.Time) (*Principal, error) {
	id, ok := strings.CutPrefix(c.ClientID, APIKeyClientPrefix)
	if !ok || a.APIKeys == nil {
		return nil, ErrInvalid
	}
	k, err := a.apiKeyLookup(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if !k.RevokedAt.IsZero() {
		return nil, ErrRevoked
	}
	p := &Principal{Tenant: c.Tenant, Audience: c.Audience, Auth: c.Auth, Expiry: c.ExpiresAt(), RateKey: "apikey:" + k.ID}
	if k.UserID != "" {
		scopes, err := a.userAccess(ctx, k.TenantID, k.UserID, now)
		if err != nil {
			return nil, err
		}
		p.Subject, p.Scopes = k.UserID, scopes
		return p, nil
	}
	owner, err := a.Clients.Get(ctx, k.ClientID)
	if errors.Is(err, clients.ErrUnknown) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, err
	}
	p.Subject, p.ClientID, p.Tenant, p.Scopes, p.client = k.ClientID, k.ClientID, owner.Tenant.Name, c.Scopes(), owner
	return p, nil
}

func (a *Authenticator) apiKeyLookup(ctx context.Context, id string, now time.Time) (*store.APIKey, error) {
	a.mu.RLock()
	e, ok := a.apiKeys[id]
	a.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.key, e.err
	}
	e = &apiKeyEntry{until: now.Add(a.CacheTTL)}
	k, err := a.APIKeys.GetAPIKey(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.err = ErrInvalid
	case err != nil:
		return nil, err
	default:
		e.key = k
	}
	a.mu.Lock()
	a.apiKeys = remember(a.apiKeys, id, e, maxVerified)
	a.mu.Unlock()
	return e.key, e.err
}

// ForgetAPIKey drops the cached lookup of an API key, so that its
// revocation through this replica is honoured at once.
func (a *Authenticator) ForgetAPIKey(id string) {
	a.mu.Lock()
	delete(a.apiKeys, id)
	a.mu.Unlock()
}
