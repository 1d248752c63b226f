package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap driver errors into these.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
	ErrReused   = errors.New("store: already used")
	ErrLimit    = errors.New("store: limit reached")
)

// Store is everything Gatehouse persists.
type Store interface {
	Tenants
	Clients
	Keys
	Tokens
	Audit
	Admins
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Tenants persists tenants.
type Tenants interface {
	CreateTenant(ctx context.Context, t *Tenant, ev Event) error
	GetTenant(ctx context.Context, name string) (*Tenant, error)
	GetTenantByID(ctx context.Context, id string) (*Tenant, error)
	ListTenants(ctx context.Context, page Page) ([]Tenant, error)
	// UpdateTenant reads the tenant, applies mutate and writes it back, in
	// one transaction. A mutate error aborts with nothing written. The
	// store keeps whatever UpdatedAt mutate sets (services own the clock).
	UpdateTenant(ctx context.Context, id string, mutate func(*Tenant) error, ev Event) (*Tenant, error)
	// DeleteTenant removes the tenant and everything it owns.
	DeleteTenant(ctx context.Context, id string, ev Event) error
}

// Clients persists API clients.
type Clients interface {
	CreateClient(ctx context.Context, c *Client, ev Event) error
	GetClient(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context, tenantID string, page Page) ([]Client, error)
	UpdateClient(ctx context.Context, id string, mutate func(*Client) error, ev Event) (*Client, error)
	DeleteClient(ctx context.Context, id string, ev Event) error
	// AddClientUsage adds batched issuance counts and last-used times.
	AddClientUsage(ctx context.Context, usage []ClientUsage) error
}

// Keys persists signing keys.
type Keys interface {
	CreateKey(ctx context.Context, k *SigningKey, ev Event) error
	ListKeys(ctx context.Context) ([]SigningKey, error)
	// RotateKey stores k and, in the same transaction, retires (as of
	// k.CreatedAt) every unretired key older than k, ordered by (created_at,
	// id). The newest key is never retired, so rotations racing on several
	// replicas always leave one key that signs.
	RotateKey(ctx context.Context, k *SigningKey, ev Event) error
	// DeleteKeysRetiredBefore removes keys whose retirement is older than t.
	DeleteKeysRetiredBefore(ctx context.Context, t time.Time) (int, error)
}

// Tokens persists what must be durable about access tokens: opaque tokens
// (a row each, looked up by digest) and the jti deny list for revoked JWTs.
type Tokens interface {
	CreateOpaqueToken(ctx context.Context, t *OpaqueToken) error
	GetOpaqueToken(ctx context.Context, digest string) (*OpaqueToken, error)
	// RevokeOpaqueToken marks the token revoked; ErrNotFound when unknown.
	RevokeOpaqueToken(ctx context.Context, digest string, ev Event) error
	// DenyJTI adds a JWT id to the deny list until expiresAt. Idempotent.
	DenyJTI(ctx context.Context, jti string, expiresAt time.Time, ev Event) error
	IsJTIDenied(ctx context.Context, jti string) (bool, error)
	// DeniedJTIs lists the deny list's entries that have not expired at now
	// and were denied at or after since (the event time DenyJTI was given;
	// zero since: all), for replicas that keep the list in memory.
	DeniedJTIs(ctx context.Context, now, since time.Time) (map[string]time.Time, error)
	// PurgeExpiredTokens deletes deny-list entries and opaque tokens past
	// their expiry, at most limit rows of each.
	PurgeExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error)
}

// Audit persists the activity log.
type Audit interface {
	AppendEvents(ctx context.Context, evs []Event) error
	ListEvents(ctx context.Context, q EventQuery) ([]Event, error)
}

// Admins persists admin-API credentials (digests only).
type Admins interface {
	CreateAdminCredential(ctx context.Context, c *AdminCredential, ev Event) error
	GetAdminCredential(ctx context.Context, digest string) (*AdminCredential, error)
	CountAdminCredentials(ctx context.Context) (int, error)
}

// Page selects a slice of a listing ordered by ID: items after After.
type Page struct {
	After string
	Limit int
}

// EventQuery selects audit events, newest first.
type EventQuery struct {
	TenantID string
	Since    time.Time // inclusive; zero means no lower bound
	Until    time.Time // exclusive; zero means no upper bound
	Action   string    // exact, or a prefix ending in "." (e.g. "client.")
	Before   int64     // cursor: only events with ID < Before; 0 means newest
	Limit    int
}
