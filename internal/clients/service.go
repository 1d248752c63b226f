package clients

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gatehouse/gatehouse/internal/cache"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Store is what the service needs.
type Store interface {
	store.Clients
	GetTenantByID(ctx context.Context, id string) (*store.Tenant, error)
}

// Resolved is a client with its tenant, as cached.
type Resolved struct {
	Client *store.Client
	Tenant *store.Tenant
	// Orgs names every tenant the client's tokens cover: its own first,
	// then those it was granted (tenants deleted since are left out).
	Orgs    []string
	secrets []parsedSecret
}

// Covers reports whether the client's tokens cover the named tenant.
func (r *Resolved) Covers(tenant string) bool { return slices.Contains(r.Orgs, tenant) }

// TTL is the access-token lifetime that applies to the client.
func (r *Resolved) TTL(fallback time.Duration) time.Duration {
	switch {
	case r.Client.AccessTokenTTL > 0:
		return r.Client.AccessTokenTTL
	case r.Tenant.Settings.AccessTokenTTL > 0:
		return r.Tenant.Settings.AccessTokenTTL
	}
	return fallback
}

// Budgets returns the client's gateway budgets: its own, else its tenant's,
// else def's, field by field.
func (r *Resolved) Budgets(def store.RateLimits) store.RateLimits {
	c, t := r.Client.RateLimits, r.Tenant.Settings.RateLimits
	return store.RateLimits{Read: first(c.Read, t.Read, def.Read), Write: first(c.Write, t.Write, def.Write)}
}

// first returns the first non-zero quota (zero means inherit).
func first(qs ...store.Quota) store.Quota {
	for _, q := range qs {
		if q != (store.Quota{}) {
			return q
		}
	}
	return store.Quota{}
}

type parsedSecret struct {
	digest  secret.Digest
	expires *time.Time
}

// Owners finds a tenant's users, so that a client's owner can be checked
// (users.Service; ErrNotFound for an unknown id or another tenant's user).
type Owners interface {
	Get(ctx context.Context, tenantID, userID string) (*store.User, error)
}

// Service resolves and authenticates clients.
type Service struct {
	Store    Store
	Owners   Owners
	Now      func() time.Time
	CacheTTL time.Duration
	Log      *slog.Logger

	once  sync.Once
	cache *cache.Cache[string, *Resolved] // id → the client, or ErrUnknown; see entries
	group singleflight.Group              // one load per id in flight

	usageMu sync.Mutex
	usage   map[usageKey]*store.ClientUsage
}

// ErrUnknown means no such client.
var ErrUnknown = errors.New("clients: unknown client")

// ErrBadSecret means the client exists but the secret does not match any
// active one. Callers must not tell the two apart in responses.
var ErrBadSecret = errors.New("clients: bad secret")

// StaleIfUnavailable is how long past its load a cached client is still
// used while the store cannot be reached.
const StaleIfUnavailable = 5 * time.Minute

// Cache bounds. Good entries are clients that exist, so they number the
// clients in use: 100,000 is far above any deployment's, and at a few
// kilobytes a parsed client it still fits in memory. Unknown ids come from
// anyone, so they get a smaller map of their own, where a flood of junk
// ids only pushes out other junk and never a real client (the hand-written
// cache this replaces wiped everything at 50,000 entries).
const (
	maxClients = 100_000
	maxUnknown = 10_000
)

// entries is the cache, made on first use: the Service is a struct
// literal, and its clock is only known once the fields are set.
func (s *Service) entries() *cache.Cache[string, *Resolved] {
	s.once.Do(func() { s.cache = cache.New[string, *Resolved](maxClients, maxUnknown, s.Now) })
	return s.cache
}

// Get returns a client, from the cache when fresh, or while the store is
// unavailable from a cache entry up to StaleIfUnavailable old.
func (s *Service) Get(ctx context.Context, id string) (*Resolved, error) {
	if !ValidID(id) {
		return nil, ErrUnknown // decided without a lookup or a cache slot
	}
	now := s.Now()
	if r, err, ok := s.entries().Get(id, now); ok {
		return r, err
	}
	// The load is shared by every waiter, so it must not die with the
	// first caller's request.
	v, err, _ := s.group.Do(id, func() (any, error) { return s.load(context.WithoutCancel(ctx), id, now) })
	if err == nil {
		return v.(*Resolved), nil
	}
	if errors.Is(err, store.ErrUnavailable) {
		// The store is down: the copy we had stays good for a while, so
		// that tokens of known clients keep working through an outage.
		// An entry's deadline is its load plus CacheTTL.
		r, until, ok := s.entries().Stale(id)
		if ok && now.Before(until.Add(StaleIfUnavailable-s.CacheTTL)) {
			return r, nil
		}
	}
	return nil, err
}

// load reads a client and its tenants and caches the answer from now: the
// client for CacheTTL, or, for an unknown id, ErrUnknown for as long.
func (s *Service) load(ctx context.Context, id string, now time.Time) (*Resolved, error) {
	r, err := s.read(ctx, id)
	switch {
	case errors.Is(err, ErrUnknown):
		// Remembered for the TTL so unknown ids cannot turn every
		// request into a store read.
		s.entries().Fail(id, ErrUnknown, now.Add(s.CacheTTL))
	case err == nil:
		s.entries().Put(id, r, now.Add(s.CacheTTL))
	}
	return r, err
}

// read resolves a client from the store: ErrUnknown if there is none.
func (s *Service) read(ctx context.Context, id string) (*Resolved, error) {
	c, err := s.Store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknown
	}
	if err != nil {
		return nil, err
	}
	t, err := s.Store.GetTenantByID(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	r := &Resolved{Client: c, Tenant: t, Orgs: []string{t.Name}}
	for _, id := range c.GrantedTenants {
		g, err := s.Store.GetTenantByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r.Orgs = append(r.Orgs, g.Name)
	}
	for _, sec := range c.Secrets {
		d, err := secret.ParseDigest(sec.Digest)
		if err != nil {
			s.Log.Error("clients: corrupt secret digest", "client", c.ID, "secret", sec.ID)
			continue
		}
		r.secrets = append(r.secrets, parsedSecret{digest: d, expires: sec.ExpiresAt})
	}
	return r, nil
}

// Invalidate forgets a cached client (or every client when id is "").
func (s *Service) Invalidate(id string) {
	if id == "" {
		s.entries().Clear()
		return
	}
	s.entries().Delete(id)
}

// dummy keeps the work for an unknown client the same as for a known one.
var dummy = secret.Hash("gatehouse-unknown-client")

// ErrMalformed means the id or secret cannot be a client's: refused before
// any lookup.
var ErrMalformed = errors.New("clients: malformed id or secret")

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// ValidID reports whether id can name a client (ids Gatehouse mints, and
// the few fixed ones such as the quickstart's, are all of this form).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Authenticate checks a client id and plaintext secret. The id's form and
// the secret's format and checksum are checked before any lookup: the
// format is public, so refusing early tells an attacker nothing.
func (s *Service) Authenticate(ctx context.Context, id, plain string) (*Resolved, error) {
	if !ValidID(id) || secret.Parse(plain, secret.ClientSecret) != nil {
		return nil, ErrMalformed
	}
	got := secret.Hash(plain)
	r, err := s.Get(ctx, id)
	if errors.Is(err, ErrUnknown) {
		got.Equal(dummy)
		return nil, ErrUnknown
	}
	if err != nil {
		return nil, err
	}
	now := s.Now()
	match := false
	for _, sec := range r.secrets {
		ok := got.Equal(sec.digest) // compare every secret: no early exit
		if ok && (sec.expires == nil || now.Before(*sec.expires)) {
			match = true
		}
	}
	if !match {
		return nil, ErrBadSecret
	}
	return r, nil
}

// RecordIssued counts one issued token; FlushUsage writes the counts.
func (s *Service) RecordIssued(id string, at time.Time) {
	s.addUsage(store.ClientUsage{ClientID: id, Hour: at, Issued: 1, LastUsed: at})
}

// RecordRequest counts a gateway request made with one of the client's
// tokens and moves its last-used time on; both reach the store in the next
// usage flush (one write per client and hour per flush interval).
func (s *Service) RecordRequest(id string, at time.Time) {
	s.addUsage(store.ClientUsage{ClientID: id, Hour: at, Requests: 1, LastUsed: at})
}

// RecordRejected counts a gateway request of the client's that the rate
// limit refused. It does not move the last-used time: nothing was served.
func (s *Service) RecordRejected(id string, at time.Time) {
	s.addUsage(store.ClientUsage{ClientID: id, Hour: at, Rejected: 1})
}

// UsageRetention is how long hourly usage is kept.
const UsageRetention = 7 * 24 * time.Hour

// usageKey groups pending usage by client and UTC hour.
type usageKey struct {
	client string
	hour   int64
}

// addUsage merges d into the pending usage of its client and hour.
func (s *Service) addUsage(d store.ClientUsage) {
	d.Hour = d.Hour.UTC().Truncate(time.Hour)
	k := usageKey{d.ClientID, d.Hour.Unix()}
	s.usageMu.Lock()
	if s.usage == nil {
		s.usage = map[usageKey]*store.ClientUsage{}
	}
	u := s.usage[k]
	if u == nil {
		u = &store.ClientUsage{ClientID: d.ClientID, Hour: d.Hour}
		s.usage[k] = u
	}
	u.Issued += d.Issued
	u.Requests += d.Requests
	u.Rejected += d.Rejected
	if d.LastUsed.After(u.LastUsed) {
		u.LastUsed = d.LastUsed
	}
	s.usageMu.Unlock()
}

// FlushUsage writes batched usage to the store: one statement per client
// per interval, off the request path. When the write fails the counts are
// kept for the next flush.
func (s *Service) FlushUsage(ctx context.Context) error {
	s.usageMu.Lock()
	pending := s.usage
	s.usage = nil
	s.usageMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	batch := make([]store.ClientUsage, 0, len(pending))
	for _, u := range pending {
		batch = append(batch, *u)
	}
	if err := s.Store.AddClientUsage(ctx, batch); err != nil {
		for _, u := range batch {
			s.addUsage(u)
		}
		return err
	}
	return nil
}
