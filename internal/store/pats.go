package store

import (
	"context"
	"fmt"
	"time"
)

// PAT is a personal access token: a user's own bearer credential, kept as
// the SHA-256 digest of the token. Prefix is the token's first characters,
// shown in listings so that the owner can tell tokens apart.
type PAT struct {
	ID, TenantID, UserID string
	Name                 string
	Digest               string
	Prefix               string
	CreatedAt            time.Time
	ExpiresAt            time.Time // zero: never expires
	RevokedAt            time.Time // zero: not revoked
	LastUsedAt           time.Time // zero: never used
	LastUsedIP           string
	// Scopes, when not nil, restrict the token to these of its user's
	// scopes: a PAT created by a narrower credential keeps that
	// credential's scopes. nil: every scope the user's roles grant.
	Scopes []string
}

// PAT statuses, as listings show them.
const (
	PATActive  = "active"
	PATRevoked = "revoked"
	PATExpired = "expired"
)

// Status is the token's state at now; revocation wins over expiry.
func (p *PAT) Status(now time.Time) string { return credentialStatus(p.RevokedAt, p.ExpiresAt, now) }

// credentialStatus is the state of a revocable credential with an optional
// expiry (zero: never) at now: revocation wins over expiry.
func credentialStatus(revokedAt, expiresAt, now time.Time) string {
	switch {
	case !revokedAt.IsZero():
		return PATRevoked
	case !expiresAt.IsZero() && !now.Before(expiresAt):
		return PATExpired
	}
	return PATActive
}

// PATUsage is a batched last-use of a PAT.
type PATUsage struct {
	ID string
	At time.Time
	IP string
}

// PATLimitError refuses a PAT beyond the per-user limit of active tokens;
// errors.Is(err, ErrLimit) holds for it.
type PATLimitError struct{ Limit int }

func (e *PATLimitError) Error() string {
	return fmt.Sprintf("a user may hold at most %d active personal access tokens: revoke one first", e.Limit)
}

// Is makes a PATLimitError an ErrLimit.
func (e *PATLimitError) Is(target error) bool { return target == ErrLimit }

// Limited is its behaviour (409 limit_reached).
func (e *PATLimitError) Limited() bool { return true }

// PATs persists personal access tokens. Mutations write their event in the
// same transaction.
type PATs interface {
	// CreatePAT stores p unless its user already holds max live
	// (unrevoked, unexpired at p.CreatedAt) tokens: *PATLimitError. The
	// count and the insert happen under the user's row lock, so concurrent
	// creations never exceed max. An unknown user (or one of another
	// tenant) is ErrNotFound.
	CreatePAT(ctx context.Context, p *PAT, max int, ev Event) error
	// GetPATByDigest returns a token by digest, revoked or not.
	GetPATByDigest(ctx context.Context, digest string) (*PAT, error)
	// ListPATs returns a user's tokens, newest first; revoked ones only
	// with includeRevoked (expired ones are listed, with their status).
	ListPATs(ctx context.Context, tenantID, userID string, includeRevoked bool) ([]PAT, error)
	// RevokePAT marks a token of the tenant revoked at at and returns it;
	// userID, when set, must own it. Revoking a revoked token changes
	// nothing (no event) and returns it as it is; ErrNotFound when unknown.
	RevokePAT(ctx context.Context, tenantID, userID, id string, at time.Time, ev Event) (*PAT, error)
	// ListExpiringPATs returns the tenant's live tokens that expire in
	// [from, before), soonest first.
	ListExpiringPATs(ctx context.Context, tenantID string, from, before time.Time) ([]PAT, error)
	// AddPATUsage records batched last-use times and addresses; a time
	// older than the stored one is ignored; unknown ids are skipped.
	AddPATUsage(ctx context.Context, usage []PATUsage) error
}
