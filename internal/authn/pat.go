package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// patPrefix marks a personal access token; no other credential starts so.
const patPrefix = "gate_pat_"

// patEntry is a cached lookup: the token, or why the digest is no good
// (unknown: ErrInvalid).
type patEntry struct {
	pat   *store.PAT
	err   error
	until time.Time
}

// authenticatePAT resolves a personal access token. The lookup is cached
// for CacheTTL (so a revocation on another replica is honoured within it);
// expiry, the tenant's mode and the user's API access are decided on every
// request, the last two from their own CacheTTL caches. In a tenant that
// uses its identity provider PATs are refused, not revoked: they work
// again when the tenant switches back.
func (a *Authenticator) authenticatePAT(ctx context.Context, raw string, now time.Time) (*Principal, error) {
	if a.PATs == nil || secret.Parse(raw, secret.PersonalAccessToken) != nil {
		return nil, ErrInvalid // checksum and form decided without a lookup
	}
	e, err := a.patLookup(ctx, secret.Hash(raw).String(), now)
	if err != nil {
		return nil, err
	}
	p := e.pat
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
	scopes, err := a.userAccess(ctx, p.TenantID, p.UserID, now)
	if err != nil {
		return nil, err
	}
	if a.PATUsed != nil && ctx.Value(inspecting{}) == nil {
		a.PATUsed(p.ID, audit.MetaFrom(ctx).IP, now)
	}
	return &Principal{Subject: p.UserID, Tenant: t.Name, Scopes: scopes, Auth: "pat", Expiry: p.ExpiresAt,
		RateKey: "user:" + p.UserID, PATID: p.ID}, nil
}

type inspecting struct{}

// Inspecting marks ctx as a check of a token on someone else's behalf
// (introspection): a PAT checked so is not recorded as used.
func Inspecting(ctx context.Context) context.Context {
	return context.WithValue(ctx, inspecting{}, true)
}

// patLookup finds a PAT by digest, or remembers having done so.
func (a *Authenticator) patLookup(ctx context.Context, digest string, now time.Time) (*patEntry, error) {
	a.mu.RLock()
	e := a.pats[digest]
	if e == nil {
		e = a.patsFailed[digest]
	}
	a.mu.RUnlock()
	if e != nil && now.Before(e.until) {
		return e, e.err
	}
	e = &patEntry{until: now.Add(a.CacheTTL)}
	p, err := a.PATs.GetPATByDigest(ctx, digest)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.err = ErrInvalid // negative caching: junk cannot make every request a query
	case err != nil:
		return nil, err
	default:
		e.pat = p
	}
	a.mu.Lock()
	rememberVerdict(&a.pats, &a.patsFailed, digest, e, e.err == nil)
	a.mu.Unlock()
	return e, e.err
}

// ForgetDigest drops the cached lookup of the PAT with this digest (hex
// SHA-256), so that a revocation made through this replica is honoured at
// once; other replicas stop trusting their copy within CacheTTL.
func (a *Authenticator) ForgetDigest(digest string) {
	a.mu.Lock()
	delete(a.pats, digest)
	delete(a.patsFailed, digest)
	a.mu.Unlock()
}
