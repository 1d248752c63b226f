package authn_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/federation/idptest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

// fakeIdP stands in for federation.Verifier: VerifyFn decides, calls counts.
type fakeIdP struct {
	VerifyFn func(raw string, t *store.Tenant) (*federation.Identity, error)
	calls    int
}

func (f *fakeIdP) Verify(_ context.Context, raw string, t *store.Tenant) (*federation.Identity, error) {
	f.calls++
	return f.VerifyFn(raw, t)
}

// idpFixture: tenant acme in oauth mode with a user who has API access,
// and an Authenticator whose IdP says yes to any token for that user.
func idpFixture(t *testing.T) (*fixture, *fakeIdP, *store.User) {
	f := newFixture(t)
	ctx := context.Background()
	var err error
	f.tn, err = f.s.Tenants.Update(ctx, f.tn.ID, func(t *store.Tenant) {
		t.Settings.UserAuthMode = store.AuthModeOAuth
		t.Settings.IdP = store.IdPSettings{Issuer: "https://idp.example", Audiences: []string{"api"}, ClaimNamespace: "https://ns"}
	}, store.Event{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.s.Users.Create(ctx, f.tn.ID, &users.Patch{Email: ptr("ada@acme.example"), Name: ptr("Ada"),
		Roles: &[]string{"program_member"}, APIEnabled: ptr(true)}, store.Event{})
	if err != nil {
		t.Fatal(err)
	}
	idp := &fakeIdP{VerifyFn: func(string, *store.Tenant) (*federation.Identity, error) {
		return &federation.Identity{Issuer: "https://idp.example", Email: "ADA@acme.example", Expiry: f.clock.Now().Add(time.Hour)}, nil
	}}
	f.a.Users, f.a.Tenants, f.a.IdP = f.s.Users, f.s.Store, idp
	return f, idp, u
}

func ptr[T any](v T) *T { return &v }

func idpToken(claims map[string]any) string {
	return idptest.Unsigned(claims) // the fake IdP decides; only iss and the tenant claim are read
}

func TestIdPTokenVerdictsAreCachedPerTenantAndSettings(t *testing.T) {
	f, idp, u := idpFixture(t)
	ctx := context.Background()
	tok := idpToken(map[string]any{"iss": "https://idp.example"})

	p, err := f.a.AuthenticateFor(ctx, tok, "acme")
	if err != nil || p.Subject != u.ID || p.Kind != credential.IdP || p.Tenant != "acme" || p.Username != "ADA@acme.example" ||
		p.RateKey != "user:"+u.ID || !p.HasScope("submissions:read") {
		t.Fatalf("principal %+v, %v", p, err)
	}
	if _, err := f.a.AuthenticateFor(ctx, tok, "acme"); err != nil || idp.calls != 1 {
		t.Fatalf("second use: %v, %d verifications (want 1: cached)", err, idp.calls)
	}
	// Another tenant's route: verified afresh, for that tenant.
	beta := &store.Tenant{Name: "beta", Settings: f.tn.Settings}
	if err := f.s.Tenants.Create(ctx, beta, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.AuthenticateFor(ctx, tok, "beta"); !errors.Is(err, authn.ErrInvalid) || idp.calls != 2 {
		t.Fatalf("on beta's route: %v after %d verifications (want invalid: no such user in beta, after a fresh check)", err, idp.calls)
	}
	// A settings change starts afresh (once the tenant cache has expired).
	if _, err := f.s.Tenants.Update(ctx, f.tn.ID, func(t *store.Tenant) { t.Settings.IdP.Audiences = []string{"api", "v2"} }, store.Event{}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(2 * time.Second)
	if _, err := f.a.AuthenticateFor(ctx, tok, "acme"); err != nil || idp.calls != 3 {
		t.Fatalf("after a settings change: %v, %d verifications (want 3)", err, idp.calls)
	}
}

func TestIdPTokenRules(t *testing.T) {
	f, idp, u := idpFixture(t)
	ctx := context.Background()
	tok := idpToken(map[string]any{"iss": "https://idp.example"})

	// No route tenant and no tenant claim: which tenant cannot be told.
	if _, err := f.a.Authenticate(ctx, tok); !errors.Is(err, authn.ErrInvalid) || !strings.Contains(err.Error(), "which tenant") {
		t.Errorf("no tenant: %v", err)
	}
	// The claim names it when the route does not.
	if p, err := f.a.Authenticate(ctx, idpToken(map[string]any{"iss": "https://idp.example", "https://ns/tenant": "acme"})); err != nil || p.Subject != u.ID {
		t.Errorf("tenant from the claim: %+v, %v", p, err)
	}
	// A refusal carries the IdP's reason; an unreachable IdP is no verdict.
	idp.VerifyFn = func(string, *store.Tenant) (*federation.Identity, error) { return nil, federation.ErrAudience }
	other := idpToken(map[string]any{"iss": "https://idp.example", "n": 1})
	if _, err := f.a.AuthenticateFor(ctx, other, "acme"); !errors.Is(err, authn.ErrInvalid) || !strings.Contains(err.Error(), "audience") {
		t.Errorf("refusal: %v", err)
	}
	down := errors.New("dial tcp: connection refused")
	idp.VerifyFn = func(string, *store.Tenant) (*federation.Identity, error) { return nil, down }
	third := idpToken(map[string]any{"iss": "https://idp.example", "n": 2})
	for range 2 {
		if _, err := f.a.AuthenticateFor(ctx, third, "acme"); !errors.Is(err, down) {
			t.Errorf("IdP unreachable: %v", err)
		}
	}
	if idp.calls != 4 {
		t.Errorf("%d verifications: an unreachable IdP's failure must not be cached", idp.calls)
	}
	idp.VerifyFn = func(string, *store.Tenant) (*federation.Identity, error) { return nil, federation.ErrExpired }
	if _, err := f.a.AuthenticateFor(ctx, idpToken(map[string]any{"iss": "https://idp.example", "n": 3}), "acme"); !errors.Is(err, authn.ErrExpired) {
		t.Errorf("expired: %v", err)
	}

	// pat mode: IdP tokens refused, whatever the cache holds.
	if _, err := f.s.Tenants.Update(ctx, f.tn.ID, func(t *store.Tenant) { t.Settings.UserAuthMode = store.AuthModePAT }, store.Event{}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(2 * time.Second)
	if _, err := f.a.AuthenticateFor(ctx, tok, "acme"); !errors.Is(err, authn.ErrInvalid) || !strings.Contains(err.Error(), "user_auth_mode pat") {
		t.Errorf("pat mode: %v", err)
	}
}

// BenchmarkIdPToken compares an IdP token's first check (signature
// verified by go-oidc against the test IdP's JWKS, user looked up) with the
// cached verdict every later request gets, and with a Gatehouse JWT's
// cached path as the baseline.
func BenchmarkIdPToken(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	idp := idptest.New(b)
	f.tn, _ = f.s.Tenants.Update(ctx, f.tn.ID, func(t *store.Tenant) {
		t.Settings.UserAuthMode = store.AuthModeOAuth
		t.Settings.IdP = store.IdPSettings{Issuer: idp.URL, Audiences: []string{"api"}, ClaimNamespace: "https://ns"}
	}, store.Event{})
	if _, err := f.s.Users.Create(ctx, f.tn.ID, &users.Patch{Email: ptr("ada@acme.example"), Name: ptr("Ada"),
		Roles: &[]string{"program_member"}, APIEnabled: ptr(true)}, store.Event{}); err != nil {
		b.Fatal(err)
	}
	f.a.Users, f.a.Tenants, f.a.Now = f.s.Users, f.s.Store, time.Now
	f.a.IdP = &federation.Verifier{Client: egress.New(egress.Options{AllowHTTP: true, AllowPrivate: true}), Now: time.Now,
		Log: slog.New(slog.DiscardHandler)}
	claims := func(i int) map[string]any {
		return map[string]any{"iss": idp.URL, "aud": "api", "exp": time.Now().Add(time.Hour).Unix(), "https://ns/email": "ada@acme.example", "n": i}
	}
	own := f.mint(b, store.FormatJWT).Token
	b.Run("gatehouse-jwt-cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.a.AuthenticateFor(ctx, own, "acme"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("idp-cached", func(b *testing.B) {
		tok := idp.Sign(claims(-1))
		for b.Loop() {
			if _, err := f.a.AuthenticateFor(ctx, tok, "acme"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("idp-first-use", func(b *testing.B) {
		toks := make([]string, b.N)
		for i := range toks {
			toks[i] = idp.Sign(claims(i))
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.a.AuthenticateFor(ctx, toks[i], "acme"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
