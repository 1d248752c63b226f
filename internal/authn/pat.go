package authn

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// patPrefix marks a personal access token; no other credential starts so.
const patPrefix = "gate_pat_"

// authenticatePAT resolves a personal access token. The lookup is cached
// for CacheTTL (so a revocation on another replica is honoured within it);
// expiry, the tenant's mode and the user's API access are decided on every
// request, the last two from their own CacheTTL caches. In a tenant that
// uses its identity provider PATs are refused, not revoked: they work
// again when the tenant switches back. A PAT acts with its user's roles,
// or with the narrower scopes it was created with, as far as the roles
// still grant them.
func (a *Authenticator) authenticatePAT(ctx context.Context, raw string, now time.Time) (*Principal, error) {
	if a.PATs == nil || secret.Parse(raw, secret.PersonalAccessToken) != nil {
		return nil, ErrInvalid // checksum and form decided without a lookup
	}
	p, err := a.pat(ctx, secret.Hash(raw).String(), now)
	if err != nil {
		return nil, err
	}
	switch p.Status(now) {
	case store.PATRevoked:
		return nil, ErrRevoked
	case store.PATExpired:
		return nil, ErrExpired
	}
	t, err := a.tenant(ctx, "id:", p.TenantID, now)
	if err != nil {
		return nil, err
	}
	if t.Settings.OAuthMode() {
		return nil, errPATsOff
	}
	h, err := a.user(ctx, p.TenantID, p.UserID, now)
	if err != nil {
		return nil, err
	}
	if a.PATUsed != nil && ctx.Value(inspecting{}) == nil {
		a.PATUsed(p.ID, audit.MetaFrom(ctx).IP, now)
	}
	scopes := h.scopes
	if p.Scopes != nil {
		scopes = Intersect(p.Scopes, h.scopes)
	}
	return &Principal{Kind: credential.PAT, Subject: p.UserID, UserID: p.UserID, PATID: p.ID, Tenant: t.Name, TenantID: t.ID,
		Orgs: []string{t.Name}, Scopes: scopes, Limits: limits(h.user.RateLimits, t.Settings.RateLimits),
		RateKey: "user:" + p.UserID, Expiry: p.ExpiresAt, IssuedAt: p.CreatedAt, Unbounded: p.Scopes == nil}, nil
}

// pat finds a PAT by digest, or remembers having done so (unknown digests
// too: junk cannot make every request a query).
func (a *Authenticator) pat(ctx context.Context, digest string, now time.Time) (*store.PAT, error) {
	return lookup(a, a.pats, digest, now, func() (*store.PAT, error) { return a.PATs.GetPATByDigest(ctx, digest) })
}
