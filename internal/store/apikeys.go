package store

import (
	"context"
	"time"
)

// APIKey is a long-lived credential exchanged at POST /auth/login for an
// API-key session (a refresh family with APIKeyID set), kept as the
// SHA-256 digest of the key. It is bound to exactly one of a user or a
// client of its tenant.
type APIKey struct {
	ID, TenantID string
	UserID       string // set for a key that acts for a user
	ClientID     string // set for a key that acts as a client
	Name         string
	Digest       string
	Prefix       string
	CreatedAt    time.Time
	ExpiresAt    time.Time // zero: never expires
	RevokedAt    time.Time // zero: not revoked
	LastLoginAt  time.Time // zero: never used
}

// Status is the key's state at now, as PATs have it: revocation wins over
// expiry.
func (k *APIKey) Status(now time.Time) string { return credentialStatus(k.RevokedAt, k.ExpiresAt, now) }

// APIKeys persists API keys. Mutations write their event in the same
// transaction.
type APIKeys interface {
	// CreateAPIKey stores k; a digest taken is ErrConflict, an unknown
	// tenant ErrNotFound.
	CreateAPIKey(ctx context.Context, k *APIKey, ev Event) error
	GetAPIKey(ctx context.Context, id string) (*APIKey, error)
	// GetAPIKeyByDigest returns a key by digest, revoked or not.
	GetAPIKeyByDigest(ctx context.Context, digest string) (*APIKey, error)
	// ListAPIKeys returns the tenant's keys, newest first.
	ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	// RevokeAPIKey marks a key of the tenant revoked at at and, in the
	// same transaction, revokes its live sessions (denying their access
	// tokens). Revoking a revoked key changes nothing (no event);
	// ErrNotFound when unknown.
	RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time, ev Event) (*APIKey, error)
	// RecordAPIKeyLogin sets the key's last_login_at.
	RecordAPIKeyLogin(ctx context.Context, id string, at time.Time) error
	// CreateFamily starts a refresh family (an API-key session) with its
	// first refresh token (tokenDigest at f.Generation), with ev.
	CreateFamily(ctx context.Context, f *RefreshFamily, tokenDigest string, ev Event) error
}
