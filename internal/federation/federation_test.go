package federation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/federation/idptest"
	"github.com/gatehouse/gatehouse/internal/store"
)

const ns = "https://example.com"

type fixture struct {
	idp    *idptest.IdP
	v      *federation.Verifier
	tenant *store.Tenant
	now    time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{idp: idptest.New(t), now: time.Now()}
	f.v = &federation.Verifier{
		Client: egress.New(egress.Options{AllowHTTP: true, AllowPrivate: true, Timeout: 5 * time.Second}),
		Now:    func() time.Time { return f.now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	f.tenant = &store.Tenant{ID: "tn_1", Name: "Acme", Settings: store.TenantSettings{UserAuthMode: store.AuthModeOAuth,
		IdP: store.IdPSettings{Issuer: f.idp.URL, Audiences: []string{"https://api.acme.test", "other"}, ClaimNamespace: ns}}}
	return f
}

// claims are those of a good token; edit returns them changed.
func (f *fixture) claims(edit func(map[string]any)) map[string]any {
	c := map[string]any{"iss": f.idp.URL, "sub": "auth0|ada", "aud": []string{"https://api.acme.test"},
		"iat": f.now.Unix(), "exp": f.now.Add(time.Hour).Unix(), ns + "/email": "ada@acme.test"}
	if edit != nil {
		edit(c)
	}
	return c
}

func TestVerifyAcceptsAGoodToken(t *testing.T) {
	f := newFixture(t)
	for name, edit := range map[string]func(map[string]any){
		"as issued":                 nil,
		"aud as a string":           func(c map[string]any) { c["aud"] = "other" },
		"matching tenant claim":     func(c map[string]any) { c[ns+"/tenant"] = "Acme" },
		"nbf within the clock skew": func(c map[string]any) { c["nbf"] = f.now.Add(20 * time.Second).Unix() },
		"among several audiences":   func(c map[string]any) { c["aud"] = []string{"x", "other"} },
	} {
		t.Run(name, func(t *testing.T) {
			id, err := f.v.Verify(context.Background(), f.idp.Sign(f.claims(edit)), f.tenant)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Email != "ada@acme.test" || id.Subject != "auth0|ada" || id.Issuer != f.idp.URL {
				t.Errorf("identity = %+v", id)
			}
		})
	}
}

func TestVerifyRefusesWithAReason(t *testing.T) {
	f := newFixture(t)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&stranger.PublicKey)
	for name, tc := range map[string]struct {
		token func() string
		want  error
	}{
		"wrong issuer": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { c["iss"] = "https://evil.test" }))
		}, federation.ErrIssuer},
		"wrong audience": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { c["aud"] = "https://api.other.test" }))
		}, federation.ErrAudience},
		"no audience": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { delete(c, "aud") }))
		}, federation.ErrAudience},
		"alg none": {func() string { return idptest.Unsigned(f.claims(nil)) }, federation.ErrAlgNone},
		"HS256 keyed with the public key": {func() string {
			return idptest.HMAC(pub, "", f.claims(nil))
		}, federation.ErrAlgorithm},
		"expired": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { c["exp"] = f.now.Add(-time.Second).Unix() }))
		}, federation.ErrExpired},
		"no expiry": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { delete(c, "exp") }))
		}, federation.ErrNoExpiry},
		"not yet valid": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { c["nbf"] = f.now.Add(10 * time.Minute).Unix() }))
		}, federation.ErrNotYetValid},
		"unknown key": {func() string {
			return idptest.SignWith(stranger, "not-published", f.claims(nil))
		}, federation.ErrUnknownKey},
		"jku and x5u pointing at the attacker's keys": {func() string {
			return idptest.SignWith(stranger, "attacker", f.claims(nil),
				map[string]any{"jku": "https://evil.test/jwks", "x5u": "https://evil.test/cert"})
		}, federation.ErrUnknownKey},
		"known kid, someone else's key": {func() string {
			return idptest.SignWith(stranger, currentKid(t, f), f.claims(nil))
		}, federation.ErrSignature},
		"no email claim": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { delete(c, ns+"/email") }))
		}, federation.ErrNoEmail},
		"email under another namespace": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { delete(c, ns+"/email"); c["https://other.test/email"] = "ada@acme.test" }))
		}, federation.ErrNoEmail},
		"tenant claim differs in case": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { c[ns+"/tenant"] = "acme" }))
		}, federation.ErrTenant},
		"tenant claim not a string": {func() string {
			return f.idp.Sign(f.claims(func(c map[string]any) { c[ns+"/tenant"] = []string{"Acme"} }))
		}, federation.ErrTenant},
		"not a JWT":        {func() string { return "abc.def" }, federation.ErrMalformed},
		"garbage segments": {func() string { return "!!.??.**" }, federation.ErrMalformed},
		"tampered payload": {func() string {
			tok := f.idp.Sign(f.claims(nil))
			parts := strings.Split(tok, ".")
			other := strings.Split(f.idp.Sign(f.claims(func(c map[string]any) { c[ns+"/email"] = "root@acme.test" })), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}, federation.ErrSignature},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.v.Verify(context.Background(), tc.token(), f.tenant)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var r *federation.Refusal
			if !errors.As(err, &r) {
				t.Fatalf("%v is not a Refusal", err)
			}
		})
	}
}

func currentKid(t *testing.T, f *fixture) string {
	t.Helper()
	first, _, _ := strings.Cut(f.idp.Sign(f.claims(nil)), ".")
	b, err := base64.RawURLEncoding.DecodeString(first)
	var h struct{ Kid string }
	if err != nil || json.Unmarshal(b, &h) != nil || h.Kid == "" {
		t.Fatalf("no kid in %s", b)
	}
	return h.Kid
}

func TestVerifyRequiredTenantClaim(t *testing.T) {
	f := newFixture(t)
	f.tenant.Settings.IdP.RequireTenantClaim = true
	if _, err := f.v.Verify(context.Background(), f.idp.Sign(f.claims(nil)), f.tenant); !errors.Is(err, federation.ErrNoTenant) {
		t.Fatalf("without the tenant claim: err = %v, want ErrNoTenant", err)
	}
	tok := f.idp.Sign(f.claims(func(c map[string]any) { c[ns+"/tenant"] = "Acme" }))
	if _, err := f.v.Verify(context.Background(), tok, f.tenant); err != nil {
		t.Fatalf("with it: %v", err)
	}
}

// A key the IdP starts publishing after Gatehouse fetched the JWKS is
// picked up on first sight of its kid; unknown kids cannot make Gatehouse
// fetch the JWKS more than once per KeyRefetch.
func TestUnknownKidRefetchesOncePerInterval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, f.idp.Sign(f.claims(nil)), f.tenant); err != nil {
		t.Fatal(err)
	}
	if n := f.idp.JWKSFetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for the first token, want 1", n)
	}
	f.idp.Rotate()
	f.now = f.now.Add(11 * time.Second)
	if _, err := f.v.Verify(ctx, f.idp.Sign(f.claims(nil)), f.tenant); err != nil {
		t.Fatalf("a token signed by a newly published key: %v", err)
	}
	if n := f.idp.JWKSFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times after a rotation, want 2", n)
	}

	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range 50 {
		tok := idptest.SignWith(stranger, "junk-"+string(rune('a'+i%26)), f.claims(nil))
		if _, err := f.v.Verify(ctx, tok, f.tenant); !errors.Is(err, federation.ErrUnknownKey) {
			t.Fatalf("junk kid: err = %v", err)
		}
	}
	if n := f.idp.JWKSFetches.Load(); n != 2 {
		t.Fatalf("50 junk kids within the interval caused %d more fetches, want 0", n-2)
	}
	f.now = f.now.Add(11 * time.Second)
	kid := f.idp.Rotate()
	tok := f.idp.Sign(f.claims(nil))
	if _, err := f.v.Verify(ctx, tok, f.tenant); err != nil {
		t.Fatalf("key %s after the interval: %v", kid, err)
	}
	if n := f.idp.JWKSFetches.Load(); n != 3 {
		t.Fatalf("JWKS fetched %d times, want 3", n)
	}
}

// Discovery through the egress client: a loopback IdP is refused unless
// the operator allows private destinations, and the failure is not a
// verdict on the token.
func TestDiscoveryHonoursEgressRules(t *testing.T) {
	f := newFixture(t)
	f.v.Client = egress.New(egress.Options{AllowHTTP: true}) // private destinations refused
	_, err := f.v.Verify(context.Background(), f.idp.Sign(f.claims(nil)), f.tenant)
	var r *federation.Refusal
	if err == nil || errors.As(err, &r) || !errors.Is(err, egress.ErrDestination) {
		t.Fatalf("err = %v, want a non-refusal wrapping egress.ErrDestination", err)
	}
	if _, err := federation.Discover(context.Background(), egress.New(egress.Options{AllowPrivate: true}), f.idp.URL); !errors.Is(err, egress.ErrScheme) {
		t.Fatalf("http discovery outside dev mode: err = %v, want ErrScheme", err)
	}
}

func TestDiscoverReportsWhatItFound(t *testing.T) {
	f := newFixture(t)
	m, err := federation.Discover(context.Background(), f.v.Client, f.idp.URL)
	if err != nil || m.Issuer != f.idp.URL || m.JWKSURI != f.idp.URL+"/jwks" {
		t.Fatalf("Discover = %+v, %v", m, err)
	}
}

// Past MetadataTTL the provider is fetched again; while the IdP is down
// the keys already held keep verifying its tokens.
func TestStaleMetadataOutlivesAnIdPOutage(t *testing.T) {
	f := newFixture(t)
	f.v.MetadataTTL = time.Minute
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, f.idp.Sign(f.claims(nil)), f.tenant); err != nil {
		t.Fatal(err)
	}
	f.idp.Down.Store(true)
	f.now = f.now.Add(2 * time.Minute)
	for range 3 { // the first of these starts the (failing) refresh
		if _, err := f.v.Verify(ctx, f.idp.Sign(f.claims(nil)), f.tenant); err != nil {
			t.Fatalf("during the outage: %v", err)
		}
	}
	// A new IdP (no metadata held) that is down is not a verdict.
	f2 := newFixture(t)
	f2.idp.Down.Store(true)
	_, err := f2.v.Verify(ctx, f2.idp.Sign(f2.claims(nil)), f2.tenant)
	var r *federation.Refusal
	if err == nil || errors.As(err, &r) {
		t.Fatalf("an unreachable IdP: %v, want a failure that is not a refusal", err)
	}
	if len(err.Error()) > 300 {
		t.Errorf("the error carries the IdP's response: %d bytes", len(err.Error()))
	}
}

// A token without a kid is matched only when the IdP publishes one key.
func TestTokenWithoutKid(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	k := f.idp.Unpublish(currentKid(t, f))
	f.idp.Rotate()
	f.idp.Unpublish(currentKid(t, f))
	kid := f.idp.Rotate()
	one := f.idp.Unpublish(kid)
	f.idp.Publish(kid, one) // one key published
	if _, err := f.v.Verify(ctx, idptest.SignWith(one, "", f.claims(nil)), f.tenant); err != nil {
		t.Fatalf("no kid, one key: %v", err)
	}
	f.idp.Publish("second", k)
	f.now = f.now.Add(time.Hour + time.Second) // fetched again
	if _, err := f.v.Verify(ctx, idptest.SignWith(k, "second", f.claims(nil)), f.tenant); err != nil {
		t.Fatalf("with kid, two keys: %v", err)
	}
	if _, err := f.v.Verify(ctx, idptest.SignWith(one, "", f.claims(nil)), f.tenant); !errors.Is(err, federation.ErrUnknownKey) {
		t.Fatalf("no kid, two keys: %v, want ErrUnknownKey", err)
	}
}
