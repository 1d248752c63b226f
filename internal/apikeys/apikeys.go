// Package apikeys owns API keys (gate_ak_…): long-lived credentials an
// administrator issues for a tenant, bound to one of its users or one of
// its clients, exchanged at /auth/login for sessions (package apisession).
// A key is shown once, kept as its SHA-256 digest, listed by prefix, and
// revoked irreversibly (its sessions end in the same transaction).
package apikeys

import (
	"context"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/problem"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

// PrefixLen is how much of a key listings show: gate_ak_ and four more
// characters.
const PrefixLen = len("gate_ak_") + 4

// Store is what the service needs of the store.
type Store interface {
	CreateAPIKey(ctx context.Context, k *store.APIKey, ev store.Event) error
	ListAPIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error)
	RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time, ev store.Event) (*store.APIKey, error)
	GetClient(ctx context.Context, id string) (*store.Client, error)
}

// Users finds a tenant's user (ErrNotFound-like for another tenant's), and
// says whether a grantor may create a credential acting as them.
type Users interface {
	Get(ctx context.Context, tenantID, userID string) (*store.User, error)
	MayActAs(ctx context.Context, g *users.Grantor, u *store.User) error
}

// InvalidError says what is wrong with a request for a key
// (problem.Invalid, every domain's validation error).
type InvalidError = problem.Invalid

func invalidKey(problem string) error {
	return &InvalidError{What: "API key", Problems: []string{problem}}
}

// Input asks for a key: a name, exactly one of a user and a client of the
// tenant, and an optional expiry in the future.
type Input struct {
	Name             string
	UserID, ClientID string
	ExpiresAt        time.Time // zero: never
	// By is the tenant's user creating the key (the console); nil is the
	// operator (the admin API). A user may create a key only for someone
	// whose roles grant no more than their own, or for a client whose
	// scopes they hold (users.Grantor).
	By *users.Grantor
}

// Service issues, lists and revokes API keys.
type Service struct {
	Store Store
	Users Users
	Now   func() time.Time
}

// Create issues a key and returns it with its plaintext, which is
// nowhere else.
func (s *Service) Create(ctx context.Context, t *store.Tenant, in Input, ev store.Event) (*store.APIKey, string, error) {
	now := s.Now().UTC().Truncate(time.Microsecond)
	in.Name = strings.TrimSpace(in.Name)
	if err := s.check(ctx, t, &in, now); err != nil {
		return nil, "", err
	}
	raw := secret.New(secret.APIKey)
	k := &store.APIKey{ID: secret.NewID("ak"), TenantID: t.ID, UserID: in.UserID, ClientID: in.ClientID, Name: in.Name,
		Digest: secret.Hash(raw).String(), Prefix: raw[:PrefixLen], CreatedAt: now, ExpiresAt: in.ExpiresAt.UTC().Truncate(time.Microsecond)}
	ev.TenantID, ev.Action, ev.Target = t.ID, audit.APIKeyCreate, k.ID
	ev.Detail = map[string]any{"user": k.UserID, "client": k.ClientID}
	if err := s.Store.CreateAPIKey(ctx, k, ev); err != nil {
		return nil, "", err
	}
	return k, raw, nil
}

func (s *Service) check(ctx context.Context, t *store.Tenant, in *Input, now time.Time) error {
	switch {
	case in.Name == "" || len(in.Name) > 100 || !protocol.Printable(in.Name):
		return invalidKey("name must be 1-100 printable characters")
	case (in.UserID == "") == (in.ClientID == ""):
		return invalidKey("give exactly one of user_id and client_id")
	case !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now):
		return invalidKey("expires_at must be in the future")
	case in.ExpiresAt.After(protocol.MaxTime):
		return invalidKey("expires_at must be no later than 9999-12-31")
	}
	if in.UserID != "" {
		u, err := s.Users.Get(ctx, t.ID, in.UserID)
		if err != nil || in.By == nil {
			return err
		}
		return s.Users.MayActAs(ctx, in.By, u)
	}
	c, err := s.Store.GetClient(ctx, in.ClientID)
	if err == nil && c.TenantID != t.ID {
		err = &store.NotFoundError{Kind: "client", ID: in.ClientID}
	}
	if err != nil || in.By == nil {
		return err
	}
	return in.By.MayGrantScopes(c.Scopes)
}

// List returns the tenant's keys, newest first.
func (s *Service) List(ctx context.Context, tenantID string) ([]store.APIKey, error) {
	return s.Store.ListAPIKeys(ctx, tenantID)
}

// Revoke revokes a key of the tenant and ends its sessions.
func (s *Service) Revoke(ctx context.Context, tenantID, id string, ev store.Event) (*store.APIKey, error) {
	ev.TenantID, ev.Action, ev.Target = tenantID, audit.APIKeyRevoke, id
	return s.Store.RevokeAPIKey(ctx, tenantID, id, s.Now(), ev)
}
