package store

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/problem"
)

// Sentinel errors. Backends wrap driver errors into these. Each says what
// it is through a behaviour (package problem), so every surface answers it
// the same way without a switch of its own.
var (
	ErrNotFound = problem.New(problem.KindNotFound, "store: not found", "no such object")
	ErrConflict = problem.New(problem.KindConflict, "store: conflict", "an object with that name or id already exists")
	ErrReused   = problem.New(problem.KindConflict, "store: already used", "")
	ErrLimit    = problem.New(problem.KindLimited, "store: limit reached", "")
	// ErrLastSuper refuses a change that would leave a tenant with users
	// but none holding RoleSuper.
	ErrLastSuper = problem.New(problem.KindConflict, "store: the tenant's last super user",
		"the tenant's last super user cannot lose the role or be deleted: give another user super first")
	// ErrUnavailable wraps errors that mean the database could not be
	// reached or answered (a refused or lost connection, a restart, a
	// timeout): the request may succeed if retried shortly (503 with
	// Retry-After on every surface).
	ErrUnavailable = problem.New(problem.KindUnavailable, "store: unavailable",
		"the server cannot reach its database; retry shortly")
)

// RoleSuper is the role a tenant must keep at least one holder of; the
// store enforces it in the transaction of every change that could remove
// the last one.
const RoleSuper = "super"

// NotFoundError names the object that is missing; errors.Is(err,
// ErrNotFound) holds for it.
type NotFoundError struct{ Kind, ID string }

func (e *NotFoundError) Error() string { return "store: no such " + e.Kind + ": " + e.ID }

// Is makes a NotFoundError an ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// NotFound is its behaviour (404).
func (e *NotFoundError) NotFound() bool { return true }

// GrantAuthorizationCode is the grant that makes a client an "API
// configuration" for the tenant policy OneActiveIntegration.
const GrantAuthorizationCode = credential.GrantAuthorizationCode

// OneIntegrationError refuses a second client with the authorization_code
// grant in a tenant whose policy allows one; errors.Is(err, ErrLimit)
// holds for it. ClientID names the existing one.
type OneIntegrationError struct{ ClientID string }

func (e *OneIntegrationError) Error() string {
	return "this tenant allows one active API integration; delete the existing one (" + e.ClientID + ") first"
}

// Is makes a OneIntegrationError an ErrLimit.
func (e *OneIntegrationError) Is(target error) bool { return target == ErrLimit }

// Conflict is its behaviour (409: the existing one must go first).
func (e *OneIntegrationError) Conflict() bool { return true }

// Store is everything Gatehouse persists.
type Store interface {
	Tenants
	Clients
	Keys
	Tokens
	OAuth
	Audit
	Admins
	Users
	PATs
	APIKeys
	Webhooks
	ConsentGrants
	// TryLock takes the named lock, held by one replica at a time across
	// everything sharing this store, if it is free; unlock releases it
	// (as does the holder's connection ending). On SQLite, one file and
	// in practice one process, it always succeeds. For periodic jobs that
	// one replica is enough to run.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
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
	// CreateClient and UpdateClient enforce the tenant policy
	// OneActiveIntegration in their transaction: a client gaining the
	// authorization_code grant while another of the tenant has it fails
	// with *OneIntegrationError.
	CreateClient(ctx context.Context, c *Client, ev Event) error
	GetClient(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context, tenantID string, page Page) ([]Client, error)
	UpdateClient(ctx context.Context, id string, mutate func(*Client) error, ev Event) (*Client, error)
	DeleteClient(ctx context.Context, id string, ev Event) error
	// AddClientUsage adds batched counts to the clients' totals and their
	// hourly rows, and moves their last-used times on. Counts of unknown
	// (deleted) clients are dropped.
	AddClientUsage(ctx context.Context, usage []ClientUsage) error
	// ClientUsageSince lists the hourly counts of a tenant's clients from
	// the hour of since on, by client and hour (LastUsed is not set).
	ClientUsageSince(ctx context.Context, tenantID string, since time.Time) ([]ClientUsage, error)
	// PurgeClientUsage deletes up to limit hourly rows older than before.
	PurgeClientUsage(ctx context.Context, before time.Time, limit int) (int, error)
}

// Keys persists signing keys.
type Keys interface {
	CreateKey(ctx context.Context, k *SigningKey, ev Event) error
	ListKeys(ctx context.Context) ([]SigningKey, error)
	// RotateKey stores k and, in the same transaction, retires (as of
	// k.ActivatesAt, when k starts signing) every unretired key older than k,
	// ordered by (created_at, id). The newest key is never retired, so
	// rotations racing on several replicas always leave one key that signs.
	RotateKey(ctx context.Context, k *SigningKey, ev Event) error
	// DeleteKeysRetiredBefore removes keys whose retirement is older than t.
	DeleteKeysRetiredBefore(ctx context.Context, t time.Time) (int, error)
}

// Tokens persists what must be durable about access tokens: opaque tokens
// (a row each, looked up by digest) and the one deny list of every token
// kind. Deny-list ids are spelled by package revocation: "jti:<id>" for an
// access token of either format, "fam:<id>" for a refresh family.
type Tokens interface {
	CreateOpaqueToken(ctx context.Context, t *OpaqueToken) error
	GetOpaqueToken(ctx context.Context, digest string) (*OpaqueToken, error)
	// RevokeOpaqueToken marks the token revoked and denies its jti, with
	// ev, in one transaction; ErrNotFound when unknown.
	RevokeOpaqueToken(ctx context.Context, digest string, ev Event) error
	// Deny puts ids on the deny list, each until its time, with ev, in one
	// transaction. Idempotent (an id already there keeps its entry).
	Deny(ctx context.Context, ids map[string]time.Time, ev Event) error
	// IsDenied reports whether any of ids is on the deny list.
	IsDenied(ctx context.Context, ids ...string) (bool, error)
	// Denied lists the deny list's entries that have not expired at now
	// and were denied at or after since (the time of the event that denied
	// them; zero since: all), for replicas that keep the list in memory.
	Denied(ctx context.Context, now, since time.Time) (map[string]time.Time, error)
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

// Users persists a tenant's users, groups and tenant-defined roles. Every
// mutation writes its event in the same transaction.
type Users interface {
	// CreateUser stores u; ErrConflict when its email (case-insensitive)
	// is taken in the tenant.
	CreateUser(ctx context.Context, u *User, ev Event) error
	// GetUser returns a user with Groups filled in.
	GetUser(ctx context.Context, id string) (*User, error)
	// GetUserByEmail finds a user of the tenant by email, ignoring case.
	GetUserByEmail(ctx context.Context, tenantID, email string) (*User, error)
	ListUsers(ctx context.Context, tenantID string, q UserQuery) ([]User, error)
	// UpdateUser reads the user, applies mutate and writes it back in one
	// transaction (id, tenant and created_at cannot change). Removing
	// RoleSuper from the tenant's last holder is ErrLastSuper.
	UpdateUser(ctx context.Context, id string, mutate func(*User) error, ev Event) (*User, error)
	// DeleteUser removes a user; ErrLastSuper for the tenant's last super.
	DeleteUser(ctx context.Context, id string, ev Event) error
	// SetUsersAPIEnabled sets api_enabled on every listed user of the
	// tenant, all or none: an unknown id is a *NotFoundError naming it. ev
	// is written once per user, with the user as Target.
	SetUsersAPIEnabled(ctx context.Context, tenantID string, ids []string, enabled bool, ev Event) error
	// RecordLogin sets a user's last_login_at (no event: the caller logs
	// the login with what it knows of the request).
	RecordLogin(ctx context.Context, id string, at time.Time) error

	CreateGroup(ctx context.Context, g *Group, ev Event) error
	GetGroup(ctx context.Context, id string) (*Group, error)
	ListGroups(ctx context.Context, tenantID string, page Page) ([]Group, error)
	UpdateGroup(ctx context.Context, id string, mutate func(*Group) error, ev Event) (*Group, error)
	DeleteGroup(ctx context.Context, id string, ev Event) error
	// AddGroupMember is idempotent; both must belong to the same tenant
	// (ErrNotFound otherwise).
	AddGroupMember(ctx context.Context, groupID, userID string, ev Event) error
	// RemoveGroupMember is ErrNotFound when the user is not a member.
	RemoveGroupMember(ctx context.Context, groupID, userID string, ev Event) error
	ListGroupMembers(ctx context.Context, groupID string, page Page) ([]User, error)
	// ListUserGroups returns the groups a user belongs to, by id.
	ListUserGroups(ctx context.Context, userID string) ([]Group, error)

	// CreateRole stores a tenant-defined role; ErrConflict when the name
	// is taken in the tenant.
	CreateRole(ctx context.Context, r *Role, ev Event) error
	ListRoles(ctx context.Context, tenantID string) ([]Role, error)
	// DeleteRole removes a tenant role; ErrConflict while a user holds it.
	DeleteRole(ctx context.Context, tenantID, name string, ev Event) error
}

// UserQuery selects users of a tenant ordered by id.
type UserQuery struct {
	Page
	// Prefix, when set, keeps users whose lower-cased email or name starts
	// with it (pass it lower-cased).
	Prefix string
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
	Actor    string    // exact; "" for any
	Outcome  string    // "success" or "failure"; "" for either
	Before   int64     // cursor: only events with ID < Before; 0 means newest
	Limit    int
}

// OAuth persists authorization codes and refresh-token families.
type OAuth interface {
	// CreateAuthCode stores a code with ev (the authorization), in one
	// transaction.
	CreateAuthCode(ctx context.Context, c *AuthCode, ev Event) error
	// GetAuthCode returns a code by digest, used or not.
	GetAuthCode(ctx context.Context, digest string) (*AuthCode, error)
	// RedeemAuthCode marks the code used and creates fam with its first
	// refresh token (tokenDigest at fam.Generation), with ev, in one
	// transaction. A code redeemed before gets ErrReused, and the
	// family its first redemption started is revoked (its live access
	// tokens denied) with reuseEv, committed (RFC 6749 §4.1.2).
	RedeemAuthCode(ctx context.Context, digest string, now time.Time, fam *RefreshFamily, tokenDigest string, ev, reuseEv Event) error
	// GetFamilyByToken returns the family holding a refresh token and the
	// generation the token was issued at (a read; decide with
	// UpdateFamilyByToken).
	GetFamilyByToken(ctx context.Context, digest string) (*RefreshFamily, int64, error)
	// UpdateFamilyByToken runs fn on the family holding the refresh token
	// digest, passing the generation the token was issued at, in one
	// transaction that holds the family's row: concurrent calls see each
	// other's changes. fn changes the family and returns the digest of a
	// new refresh token to record at the new f.Generation ("" for none) and
	// an event to write (nil for none); an error rolls everything back.
	// A family fn revokes is denied with its live access tokens.
	UpdateFamilyByToken(ctx context.Context, digest string, fn func(f *RefreshFamily, issuedAt int64) (newToken string, ev *Event, err error)) (*RefreshFamily, error)
	// RevokeFamilies revokes every live family matching the filter (at
	// least one field set), denying each family and its access tokens; it
	// returns how many it revoked.
	RevokeFamilies(ctx context.Context, f FamilyFilter, now time.Time, ev Event) (int, error)
	// PurgeAuthCodes deletes up to limit codes that expired before t.
	PurgeAuthCodes(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeFamilies deletes up to limit refresh families that expired
	// before t, with their refresh tokens.
	PurgeFamilies(ctx context.Context, before time.Time, limit int) (int, error)
}

// FamilyFilter picks refresh families: every set field must match.
type FamilyFilter struct {
	ID       string
	ClientID string
	TenantID string
	UserID   string
	APIKeyID string
}

// Unwrap returns the backend under any wrappers of s (a wrapper has an
// Unwrap method returning what it wraps): for tests that read the
// database directly.
func Unwrap(s Store) Store {
	for {
		w, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return s
		}
		s = w.Unwrap()
	}
}
