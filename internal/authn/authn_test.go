package authn_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/tenants"
	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/internal/users"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// services are the domain services an Authenticator reads, on a SQLite
// store of the test's own: no app, no listener.
type services struct {
	Store   store.Store
	Tokens  *token.Service
	Clients *clients.Service
	Users   *users.Service
	Tenants *tenants.Service
	URL     string // the issuer
}

func newServices(t testing.TB) *services {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, _ := secret.ParseMasterKey(secret.NewMasterKey())
	sealer, err := secret.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	km := &keys.Manager{Store: db, Sealer: sealer, Alg: jose.ES256, Overlap: keys.MaxTokenLifetime, Log: log, Now: time.Now}
	if err := km.Load(ctx); err != nil {
		t.Fatal(err)
	}
	s := &services{Store: db, URL: "https://gatehouse.test"}
	s.Tokens = &token.Service{Issuer: s.URL, Keys: km, Store: db, Now: time.Now}
	s.Users = &users.Service{Store: db, Families: db, Now: time.Now, Log: log,
		Params: secret.PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	s.Clients = &clients.Service{Store: db, Owners: s.Users, Now: time.Now, CacheTTL: time.Second, Log: log}
	s.Tenants = &tenants.Service{Store: db, Now: time.Now, Changed: func() { s.Clients.Invalidate("") }}
	return s
}

type fixture struct {
	s     *services
	raw   store.Store // the store, unwatched: what another replica writes
	a     *authn.Authenticator
	clock *clock
	tn    *store.Tenant
	c     *store.Client
}

// newFixture builds the domain services on a store of their own and an
// Authenticator on a fake clock.
func newFixture(t testing.TB) *fixture {
	s := newServices(t)
	ctx := context.Background()
	tn := &store.Tenant{Name: "acme"}
	if err := s.Tenants.Create(ctx, tn, store.Event{}); err != nil {
		t.Fatal(err)
	}
	c := &store.Client{ID: secret.NewID("gc"), TenantID: tn.ID, Name: "c", Scopes: []string{"read"}}
	if _, err := s.Clients.Create(ctx, c, store.Event{}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	a := &authn.Authenticator{Tokens: s.Tokens, Clients: s.Clients, Store: s.Store,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clk.Now, CacheTTL: time.Second}
	return &fixture{s: s, raw: s.Store, a: a, clock: clk, tn: tn, c: c}
}

func (f *fixture) mint(t testing.TB, format string) *token.Minted {
	t.Helper()
	m, err := f.s.Tokens.Mint(context.Background(), token.Request{ClientID: f.c.ID, TenantID: f.tn.ID, Tenant: "acme",
		Orgs: []string{"acme"}, Subject: f.c.ID, Audience: []string{f.s.URL}, Scope: "read", Auth: credential.ClientCredentials,
		TTL: time.Hour, Format: format})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPrincipal(t *testing.T) {
	f := newFixture(t)
	p, err := f.a.Authenticate(context.Background(), f.mint(t, store.FormatJWT).Token)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != f.c.ID || p.ClientID != f.c.ID || p.Tenant != "acme" || !p.HasScope("read") || p.HasScope("write") ||
		p.Kind != credential.ClientCredentials || p.RateKey != "client:"+f.c.ID || !p.Covers("acme") || p.Covers("Acme") {
		t.Errorf("principal %+v", p)
	}
}

// A verdict remembered from an earlier check never outlives the token.
func TestCachedJWTStillExpires(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, store.FormatJWT).Token
	if _, err := f.a.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	if _, err := f.a.Authenticate(context.Background(), tok); !errors.Is(err, authn.ErrExpired) {
		t.Errorf("an hour later: %v, want ErrExpired", err)
	}
}

func TestDenyList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mine, theirs := f.mint(t, store.FormatJWT), f.mint(t, store.FormatJWT)
	for _, m := range []*token.Minted{mine, theirs} {
		if _, err := f.a.Authenticate(ctx, m.Token); err != nil {
			t.Fatal(err)
		}
	}
	// Revoked through this replica (its watched store, as every surface
	// writes): refused at once, cache or not.
	if err := f.a.Watch(f.s.Store).Deny(ctx, deny(mine), store.Event{Action: "token.revoke"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Authenticate(ctx, mine.Token); !errors.Is(err, authn.ErrRevoked) {
		t.Errorf("revoked here: %v", err)
	}
	// Revoked through another replica (straight into the store): refused
	// after the next refresh, which Run does every interval. A first
	// refresh loads the whole list, so the one that matters is incremental.
	if err := f.a.RefreshDenyList(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.raw.Deny(ctx, deny(theirs), store.Event{Action: "token.revoke"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Authenticate(ctx, theirs.Token); err != nil {
		t.Fatalf("before the refresh the replica cannot know: %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go f.a.Run(runCtx, 10*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := f.a.Authenticate(ctx, theirs.Token)
		if errors.Is(err, authn.ErrRevoked) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revocation on another replica never seen: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := f.a.Authenticate(ctx, mine.Token); !errors.Is(err, authn.ErrRevoked) {
		t.Errorf("after refreshes, the token revoked here: %v", err)
	}
}

// Opaque tokens are checked against the same deny list as JWTs: revoked
// on another replica, refused after the next refresh; revoked here, at
// once; their rows are read once.
func TestOpaqueTokensShareTheDenyList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.a.RefreshDenyList(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.mint(t, store.FormatOpaque)
	if m.Claims.ID == "" {
		t.Fatal("an opaque token has no jti")
	}
	if _, err := f.a.Authenticate(ctx, m.Token); err != nil {
		t.Fatal(err)
	}
	if err := f.raw.RevokeOpaqueToken(ctx, secret.Hash(m.Token).String(), store.Event{Action: "token.revoke"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Authenticate(ctx, m.Token); err != nil {
		t.Errorf("before the refresh this replica cannot know: %v", err)
	}
	if err := f.a.RefreshDenyList(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Authenticate(ctx, m.Token); !errors.Is(err, authn.ErrRevoked) {
		t.Errorf("after the refresh: %v, want ErrRevoked", err)
	}
	// Revoked through this replica: refused at once.
	other := f.mint(t, store.FormatOpaque)
	if _, err := f.a.Authenticate(ctx, other.Token); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Watch(f.raw).RevokeOpaqueToken(ctx, secret.Hash(other.Token).String(), store.Event{Action: "token.revoke"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Authenticate(ctx, other.Token); !errors.Is(err, authn.ErrRevoked) {
		t.Errorf("revoked here: %v, want ErrRevoked", err)
	}
	// Unknown tokens are remembered as unknown.
	junk := secret.New(secret.AccessToken)
	for range 3 {
		if _, err := f.a.Authenticate(ctx, junk); !errors.Is(err, authn.ErrInvalid) {
			t.Errorf("unknown opaque token: %v", err)
		}
	}
}

// Revoking a family denies every token minted from it, by its sid, of
// either format, on this replica at once.
func TestFamilyRevocationReachesEveryFormat(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.a.RefreshDenyList(ctx); err != nil {
		t.Fatal(err)
	}
	var toks []*token.Minted
	for _, format := range []string{store.FormatJWT, store.FormatOpaque} {
		m, err := f.s.Tokens.Mint(ctx, token.Request{ClientID: f.c.ID, TenantID: f.tn.ID, Tenant: "acme", Orgs: []string{"acme"},
			Subject: f.c.ID, Audience: []string{f.s.URL}, Scope: "read", Auth: credential.ClientCredentials, TTL: time.Hour,
			Format: format, SessionID: "rf_family"})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, m)
		if _, err := f.a.Authenticate(ctx, m.Token); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.a.Watch(f.raw).Deny(ctx, map[string]time.Time{revocation.ID(revocation.Family, "rf_family"): time.Now().Add(time.Hour)},
		store.Event{Action: "oauth.family_revoke"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range toks {
		if _, err := f.a.Authenticate(ctx, m.Token); !errors.Is(err, authn.ErrRevoked) {
			t.Errorf("%s token of a revoked family: %v, want ErrRevoked", m.Claims.Format, err)
		}
	}
}

func deny(m *token.Minted) map[string]time.Time {
	return map[string]time.Time{revocation.ID(revocation.Token, m.Claims.ID): m.Claims.ExpiresAt()}
}

func TestDeletedClientsTokensDie(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.mint(t, store.FormatJWT).Token
	if _, err := f.a.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Clients.Delete(ctx, f.c.ID, store.Event{Action: "client.delete"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Authenticate(ctx, tok); !errors.Is(err, authn.ErrInvalid) {
		t.Errorf("token of a deleted client: %v, want ErrInvalid", err)
	}
}

func TestGarbage(t *testing.T) {
	f := newFixture(t)
	for _, tok := range []string{"x", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "gate_at_nope", f.mint(t, store.FormatJWT).Token + "x"} {
		if _, err := f.a.Authenticate(context.Background(), tok); !errors.Is(err, authn.ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", tok, err)
		}
	}
}
