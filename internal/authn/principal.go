package authn

import (
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Principal is who is calling, as of this request: plain values, decided
// by the Authenticator, that the surfaces read and never widen.
type Principal struct {
	// Kind is the credential the call came with.
	Kind credential.Kind
	// Subject is the user id for a user's credential, else the client's
	// id (an API key's client, for a key bound to one).
	Subject string
	// UserID is set for every credential that acts for a user.
	UserID string
	// ClientID is the integration the call came through: the client of a
	// client or authorization-code token, or of a client-bound API key.
	ClientID string
	// APIKeyID names the API key of an API-key session, PATID the personal
	// access token.
	APIKeyID, PATID string
	// TokenID (jti) and SessionID (the refresh family, sid) of a Gatehouse
	// access token.
	TokenID, SessionID string
	// Tenant is the home tenant's name, TenantID its id.
	Tenant, TenantID string
	// Orgs are the tenants the principal covers, home first: a user's
	// credential covers the user's tenant only; a client's, its tenant and
	// those granted to it now.
	Orgs []string
	// Scopes are the effective scopes: the credential's intersected with
	// what the holder may do now.
	Scopes []string
	// Audience is the token's audience that still holds.
	Audience []string
	// Limits are the gateway budgets that override the server's defaults:
	// the credential's own (client, user), then its tenant's; a zero Quota
	// inherits the default.
	Limits store.RateLimits
	// RateKey names the budget the caller draws from: the integration (a
	// client, an API key) or, for PATs and IdP tokens, the user.
	RateKey string
	// Expiry is when the credential expires (zero: a PAT that never does),
	// IssuedAt when it was issued.
	Expiry, IssuedAt time.Time
	// Username and Issuer describe an IdP token: the login it names and
	// who issued it.
	Username, Issuer string
	// Unbounded is set for a credential that acts with whatever its user's
	// roles grant, carrying no scope list of its own (an unrestricted PAT,
	// an IdP token): what it may hand out is the user's whole reach.
	Unbounded bool
}

// Covers reports whether the principal may act on the named tenant
// (case-sensitive).
func (p *Principal) Covers(tenant string) bool { return slices.Contains(p.Orgs, tenant) }

// HasScope reports whether the principal holds scope.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// ActsForUser reports whether the principal is a user's (rather than a
// machine client's acting for itself).
func (p *Principal) ActsForUser() bool { return p.UserID != "" }

// Failure reasons; their text is safe to send in error_description. The
// first three are 401 (problem.KindUnauthenticated: invalid_token on a
// protected resource), the last 403.
var (
	ErrExpired = problem.New(problem.KindUnauthenticated, "the access token expired", "")
	ErrInvalid = problem.New(problem.KindUnauthenticated, "the access token is invalid", "")
	ErrRevoked = problem.New(problem.KindUnauthenticated, "the access token was revoked", "")
	// ErrNoAPIAccess: the token is good but the user it acts for has no
	// API access now.
	ErrNoAPIAccess = problem.New(problem.KindForbidden, "the user the access token acts for has no API access", "")
)

// IsVerdict tells a judgement on a credential (ErrExpired, ErrInvalid,
// ErrRevoked, ErrNoAPIAccess, possibly wrapped) from a failure to check
// it.
func IsVerdict(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired) || errors.Is(err, ErrRevoked) || errors.Is(err, ErrNoAPIAccess)
}

// Intersect returns the scopes of want that every set in limits holds, in
// want's order, without repeats. A nil limit restricts nothing (an empty,
// non-nil one everything).
func Intersect(want []string, limits ...[]string) []string {
	out := make([]string, 0, len(want))
	for _, s := range want {
		if slices.Contains(out, s) {
			continue
		}
		ok := true
		for _, l := range limits {
			if l != nil && !slices.Contains(l, s) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// Grantable is what a user may put in a delegated token: the scopes their
// roles grant and Gatehouse's own (credential.Own) scopes.
func Grantable(roleScopes []string) []string {
	return append(slices.Clip(roleScopes), credential.ScopeOpenID, credential.ScopeProfile, credential.ScopeEmail, credential.ScopeTokens)
}

// limits are the budgets of the first level that sets each class.
func limits(levels ...store.RateLimits) store.RateLimits {
	var out store.RateLimits
	for _, l := range levels {
		if out.Read == (store.Quota{}) {
			out.Read = l.Read
		}
		if out.Write == (store.Quota{}) {
			out.Write = l.Write
		}
	}
	return out
}
