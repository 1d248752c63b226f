package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/token"
)

var ctx = context.Background()

type fixture struct {
	svc    *token.Service
	store  store.Store
	sealer *secret.Sealer
	now    time.Time
}

// privateKey unseals the current signing key, as only the server can.
func (f *fixture) privateKey(t testing.TB) any {
	t.Helper()
	recs, err := f.store.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := recs[len(recs)-1]
	der, err := f.sealer.Open(rec.Sealed, []byte(rec.ID))
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t testing.TB, alg jose.SignatureAlgorithm) *fixture {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key, _ := secret.ParseMasterKey(secret.NewMasterKey())
	sealer, _ := secret.NewSealer(key)
	f := &fixture{store: s, sealer: sealer, now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	km := &keys.Manager{Store: s, Sealer: sealer, Alg: alg, Overlap: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock}
	if err := km.Load(ctx); err != nil {
		t.Fatal(err)
	}
	f.svc = &token.Service{Issuer: "https://issuer.example", Keys: km, Store: s, Now: clock}
	return f
}

func (f *fixture) mint(t testing.TB) *token.Minted {
	t.Helper()
	m, err := f.svc.Mint(ctx, token.Request{ClientID: "c1", TenantID: "t1", Tenant: "acme", Orgs: []string{"acme"}, Subject: "c1",
		Audience: []string{"api"}, Scope: "read", Auth: "client_credentials", TTL: time.Hour, Format: store.FormatJWT})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVerifyRoundTrip(t *testing.T) {
	for _, alg := range keys.Algorithms {
		f := newFixture(t, alg)
		m := f.mint(t)
		c, err := f.svc.Verify(ctx, m.Token)
		if err != nil || c.Subject != "c1" || c.Tenant != "acme" || c.Scope != "read" || c.ID != m.Claims.ID {
			t.Fatalf("%s: %+v %v", alg, c, err)
		}
	}
}

func TestVerifyExpiryAndRevocation(t *testing.T) {
	f := newFixture(t, jose.ES256)
	m := f.mint(t)
	f.now = f.now.Add(time.Hour)
	if _, err := f.svc.Verify(ctx, m.Token); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
	f.now = f.now.Add(-time.Minute)
	if err := f.svc.Revoke(ctx, m.Token, &m.Claims, store.Event{}); err != nil {
		t.Fatal(err)
	}
	// The deny list is authn's to check on every request; Revoke puts the
	// jti there.
	if denied, err := f.svc.Store.IsDenied(ctx, revocation.ID(revocation.Token, m.Claims.ID)); err != nil || !denied {
		t.Fatalf("revoked token on the deny list: %v, %v", denied, err)
	}
}

// Tokens crafted by an attacker are refused: RFC 8725 §2.1 and §3.1.
func TestVerifyRefusesForgeries(t *testing.T) {
	f := newFixture(t, jose.ES256)
	m := f.mint(t)
	kid := f.svc.Keys.Current().ID
	claims := m.Claims
	sign := func(alg jose.SignatureAlgorithm, key any, typ, kid string) string {
		opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid)
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubJSON, _ := jose.JSONWebKey{Key: f.svc.Keys.Current().Public}.MarshalJSON()
	parts := strings.Split(m.Token, ".")
	cases := map[string]string{
		// HS256 keyed with the public key: the classic algorithm confusion.
		"HS256 with the public key": sign(jose.HS256, pubJSON, "at+jwt", kid),
		"attacker key, our kid":     sign(jose.ES256, attacker, "at+jwt", kid),
		"attacker key, no kid":      sign(jose.ES256, attacker, "at+jwt", ""),
		"our key, typ JWT (an ID token is not an access token, RFC 9068 §4)": sign(jose.ES256, f.privateKey(t), "JWT", kid),
		"alg none":           "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".",
		"signature stripped": parts[0] + "." + parts[1] + ".",
		"payload swapped":    parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2],
		"not a JWT":          "hello",
		"huge":               strings.Repeat("a", 10000),
	}
	for name, tok := range cases {
		if _, err := f.svc.Verify(ctx, tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The control: our key with the right typ verifies.
	if _, err := f.svc.Verify(ctx, sign(jose.ES256, f.privateKey(t), "at+jwt", kid)); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	// Our own key but another issuer's claims.
	other := *f.svc
	other.Issuer = "https://evil.example"
	if _, err := other.Verify(ctx, m.Token); !errors.Is(err, token.ErrClaims) {
		t.Errorf("wrong issuer: %v", err)
	}
}

func TestOpaqueTokens(t *testing.T) {
	f := newFixture(t, jose.ES256)
	tn := &store.Tenant{ID: "t1", Name: "acme"}
	if err := f.store.CreateTenant(ctx, tn, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateClient(ctx, &store.Client{ID: "c1", TenantID: "t1", TokenFormat: store.FormatOpaque}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	m, err := f.svc.Mint(ctx, token.Request{ClientID: "c1", TenantID: "t1", Subject: "c1", TTL: time.Minute, Format: store.FormatOpaque, Auth: "client_credentials"})
	if err != nil || secret.Parse(m.Token, secret.AccessToken) != nil {
		t.Fatalf("%q %v", m.Token, err)
	}
	c, err := f.svc.Verify(ctx, m.Token)
	if err != nil || c.ClientID != "c1" || c.Auth != "client_credentials" {
		t.Fatalf("%+v %v", c, err)
	}
	f.now = f.now.Add(time.Minute)
	if _, err := f.svc.Verify(ctx, m.Token); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := f.svc.Verify(ctx, secret.New(secret.AccessToken)); !errors.Is(err, token.ErrSignature) {
		t.Fatalf("unknown: %v", err)
	}
}

func FuzzVerifyJWT(f *testing.F) {
	fx := newFixture(f, jose.ES256)
	f.Add(fx.mint(f).Token)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := fx.svc.VerifyJWT(ctx, raw)
		if err == nil && (c.Issuer != "https://issuer.example" || c.Expiry == nil) {
			t.Fatalf("accepted a token with claims %+v", c)
		}
	})
}

// BenchmarkVerifyJWT is JWKS-based verification of an issued token: the
// resource server's cost per request.
func BenchmarkVerifyJWT(b *testing.B) {
	for _, alg := range keys.Algorithms {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, alg)
			tok := f.mint(b).Token
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.svc.VerifyJWT(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMintJWT(b *testing.B) {
	for _, alg := range keys.Algorithms {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				f.mint(b)
			}
		})
	}
}

// BenchmarkVerifyWithJWKS is what an independent resource server does: take
// the key from the published JWKS document by kid and verify with go-jose,
// without Gatehouse's key manager. Compare with BenchmarkVerifyJWT.
func BenchmarkVerifyWithJWKS(b *testing.B) {
	for _, alg := range keys.Algorithms {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, alg)
			tok := f.mint(b).Token
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(f.svc.Keys.JWKS(), &set); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{alg})
				if err != nil {
					b.Fatal(err)
				}
				keys := set.Key(parsed.Headers[0].KeyID)
				if len(keys) != 1 {
					b.Fatal("kid not in the JWKS")
				}
				var c jwt.Claims
				if err := parsed.Claims(keys[0].Key, &c); err != nil {
					b.Fatal(err)
				}
				if err := c.ValidateWithLeeway(jwt.Expected{Issuer: "https://issuer.example", AnyAudience: jwt.Audience{"api"}, Time: f.now}, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
