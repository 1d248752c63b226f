package pats

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Errors. A limit refusal is a *store.PATLimitError (errors.Is ErrLimit).
var (
	// ErrNoAPIAccess refuses creating a token for a user without API access.
	ErrNoAPIAccess = problem.New(problem.KindForbidden, "pats: the user has no API access",
		"API access is not enabled for you: ask an administrator")
	ErrNotFound = store.ErrNotFound
)

// InvalidError lists what is wrong with a token request (problem.Invalid,
// every domain's validation error).
type InvalidError = problem.Invalid

// PrefixLen is how much of a token listings show: "gate_pat_" and four
// characters of the random part.
const PrefixLen = len("gate_pat_") + 4

// MaxName bounds a token's name, in characters; MaxScopes its scope list.
const (
	MaxName   = 100
	MaxScopes = 100
)

// Store is what the service needs persisted.
type Store interface {
	store.PATs
	GetTenantByID(ctx context.Context, id string) (*store.Tenant, error)
}

// Users is what the service needs of the users domain.
type Users interface {
	Get(ctx context.Context, tenantID, userID string) (*store.User, error)
	HasAPIAccess(ctx context.Context, u *store.User) (bool, error)
}

// Service creates, lists and revokes personal access tokens.
type Service struct {
	Store Store
	Users Users
	Now   func() time.Time

	usageMu sync.Mutex
	usage   map[string]store.PATUsage
}

// Created is a new token: its record and the plaintext, shown once.
type Created struct {
	PAT   *store.PAT
	Token string
}

// Create mints a token named name for a user of the tenant who has API
// access, expiring as exp asks within the tenant's settings, acting with
// the user's roles or, when scopes is not nil, with at most those (the
// caller decides what the creating credential may hand out). ev is the
// activity-log event, written with the token in one transaction (its
// Target is set to the token's id).
func (s *Service) Create(ctx context.Context, tenantID, userID, name string, exp Expiry, scopes []string, ev store.Event) (*Created, error) {
	t, err := s.Store.GetTenantByID(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	u, err := s.Users.Get(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	if ok, err := s.Users.HasAPIAccess(ctx, u); err != nil {
		return nil, err
	} else if !ok {
		return nil, ErrNoAPIAccess
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	name = strings.TrimSpace(name)
	var bad []string
	if name == "" || utf8.RuneCountInString(name) > MaxName || !protocol.Printable(name) {
		bad = append(bad, "name must be 1-100 printable characters")
	}
	at, more := exp.resolve(now, t.Settings.PATForbidNever, t.Settings.PATMaxLifetime)
	bad = append(bad, more...)
	if len(scopes) > MaxScopes {
		bad = append(bad, fmt.Sprintf("scopes: at most %d", MaxScopes))
	}
	for _, sc := range scopes {
		if !credential.ValidScope(sc) {
			bad = append(bad, fmt.Sprintf("scope %q is not a valid scope token (RFC 6749 §3.3)", protocol.Clean(sc, 64)))
		}
	}
	if len(bad) > 0 {
		return nil, &InvalidError{What: "token request", Problems: bad}
	}
	if scopes != nil {
		scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	}
	tok := secret.New(secret.PersonalAccessToken)
	p := &store.PAT{ID: secret.NewID("pat"), TenantID: tenantID, UserID: userID, Name: name,
		Digest: secret.Hash(tok).String(), Prefix: tok[:PrefixLen], CreatedAt: now, ExpiresAt: at, Scopes: scopes}
	ev.Target = p.ID
	if err := s.Store.CreatePAT(ctx, p, MaxActive(t), ev); err != nil {
		return nil, err
	}
	return &Created{PAT: p, Token: tok}, nil
}

// MaxActive is the tenant's per-user limit of live tokens.
func MaxActive(t *store.Tenant) int {
	if t.Settings.PATMaxActive > 0 {
		return t.Settings.PATMaxActive
	}
	return store.DefaultPATMaxActive
}

// List returns a user's tokens, newest first; revoked ones only when asked.
func (s *Service) List(ctx context.Context, tenantID, userID string, includeRevoked bool) ([]store.PAT, error) {
	return s.Store.ListPATs(ctx, tenantID, userID, includeRevoked)
}

// Revoke ends a token of the tenant, irreversibly; userID, when set, must
// own it. Cached verdicts on this replica are dropped at once; other
// replicas stop trusting theirs within the authenticator's cache TTL.
func (s *Service) Revoke(ctx context.Context, tenantID, userID, id string, ev store.Event) (*store.PAT, error) {
	ev.Target = id
	// Through the watched store: this replica forgets its cached copy.
	return s.Store.RevokePAT(ctx, tenantID, userID, id, s.Now().UTC(), ev)
}

// Expiring lists the tenant's live tokens that expire within the next
// window, soonest first.
func (s *Service) Expiring(ctx context.Context, tenantID string, window time.Duration) ([]store.PAT, error) {
	now := s.Now().UTC()
	return s.Store.ListExpiringPATs(ctx, tenantID, now, now.Add(window))
}

// RecordUse notes that a token was used at at from ip; FlushUsage writes
// the latest use of each token (one write per token per flush).
func (s *Service) RecordUse(id, ip string, at time.Time) {
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	if s.usage == nil {
		s.usage = map[string]store.PATUsage{}
	}
	if u, ok := s.usage[id]; !ok || at.After(u.At) {
		s.usage[id] = store.PATUsage{ID: id, At: at, IP: ip}
	}
}

// FlushUsage writes the pending uses; on failure they are kept for the
// next flush (unless newer ones arrived meanwhile).
func (s *Service) FlushUsage(ctx context.Context) error {
	s.usageMu.Lock()
	pending := s.usage
	s.usage = nil
	s.usageMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	batch := make([]store.PATUsage, 0, len(pending))
	for _, u := range pending {
		batch = append(batch, u)
	}
	if err := s.Store.AddPATUsage(ctx, batch); err != nil {
		for _, u := range batch {
			s.RecordUse(u.ID, u.IP, u.At)
		}
		return err
	}
	return nil
}
