package federation_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/federation/idptest"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The fuzz identity provider lives in memory: fixed keys (so that the
// committed corpus holds tokens it signed), a fixed clock, and documents
// served by a RoundTripper, with no network at all.
const (
	fuzzIssuer    = "https://idp.fuzz.test"
	fuzzNS        = "https://example.com"
	fuzzKid       = "k1"
	fuzzKeyHex    = "58c20b639dd59196e7c537394eaf0b157f3b253c39c4a1bc022387d963d53a24"
	strangerKeyHx = "6bcf85f352180f413c6f106278c29b65c0fa1acd67d4aede3a3473d9090a5b4b"
)

var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func fuzzKey(t testing.TB, h string) *ecdsa.PrivateKey {
	b, _ := hex.DecodeString(h)
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// docs serves the discovery document at the issuer's well-known URL and
// the JWKS at every other URL (so that a mutated jwks_uri still finds it).
type docs struct{ discovery, jwks []byte }

func (d docs) RoundTrip(r *http.Request) (*http.Response, error) {
	body := d.jwks
	if r.URL.String() == fuzzIssuer+"/.well-known/openid-configuration" {
		body = d.discovery
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func goodDocs(t testing.TB) docs {
	disc, _ := json.Marshal(map[string]any{"issuer": fuzzIssuer, "jwks_uri": fuzzIssuer + "/jwks",
		"authorization_endpoint": fuzzIssuer + "/authorize", "id_token_signing_alg_values_supported": []string{"ES256"}})
	keys, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &fuzzKey(t, fuzzKeyHex).PublicKey, KeyID: fuzzKid, Algorithm: "ES256", Use: "sig"}}})
	return docs{disc, keys}
}

func fuzzVerifier(d docs) *federation.Verifier {
	return &federation.Verifier{Client: &http.Client{Transport: d}, Now: func() time.Time { return fuzzNow },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func fuzzTenant() *store.Tenant {
	return &store.Tenant{ID: "tn_1", Name: "Acme", Settings: store.TenantSettings{UserAuthMode: store.AuthModeOAuth,
		IdP: store.IdPSettings{Issuer: fuzzIssuer, Audiences: []string{"https://api.acme.test", "other"}, ClaimNamespace: fuzzNS}}}
}

func goodClaims() []byte {
	b, _ := json.Marshal(map[string]any{"iss": fuzzIssuer, "sub": "auth0|ada", "aud": []string{"https://api.acme.test"},
		"iat": fuzzNow.Unix(), "exp": fuzzNow.Add(time.Hour).Unix(), fuzzNS + "/email": "ada@acme.test"})
	return b
}

// signRaw signs payload bytes as they are (idptest.SignWith takes claims
// to marshal; the fuzzer's payloads need not be JSON).
func signRaw(t testing.TB, k *ecdsa.PrivateKey, kid string, payload []byte) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// A tenant's identity provider's tokens reach the gateway from anyone.
// Against a fixed key set: whatever the token, Verify never panics and
// always gives a reason (a *Refusal: the IdP is up, so nothing is "cannot
// check now"); it never accepts a token the configured key did not sign;
// and a token it accepts names the configured issuer, one of the tenant's
// audiences, a future expiry and an email, and no other tenant. claims is
// also signed with the configured key (which the fuzzer cannot do) to
// drive the claim rules, and with a stranger's key under the same kid.
func FuzzVerify(f *testing.F) {
	key, stranger := fuzzKey(f, fuzzKeyHex), fuzzKey(f, strangerKeyHx)
	v, tn := fuzzVerifier(goodDocs(f)), fuzzTenant()
	f.Add(signRaw(f, key, fuzzKid, goodClaims()), goodClaims())
	f.Add(signRaw(f, stranger, fuzzKid, goodClaims()), []byte(`{"iss":"`+fuzzIssuer+`","aud":"other","exp":1e300,"`+fuzzNS+`/email":"a"}`))
	f.Add(idptest.Unsigned(map[string]any{"iss": fuzzIssuer}), []byte(`{"iss":"`+fuzzIssuer+`","aud":["x",1],"exp":"1900000000"}`))
	f.Add(idptest.HMAC([]byte("k"), fuzzKid, map[string]any{"iss": fuzzIssuer}), []byte(`{"iss":"`+fuzzIssuer+`","iss":"https://evil.test"}`))
	f.Add("abc.def", []byte(`{"nbf":1790000000,"`+fuzzNS+`/tenant":"acme"}`))
	f.Fuzz(func(t *testing.T, raw string, claims []byte) {
		ctx := context.Background()
		id, err := v.Verify(ctx, raw, tn)
		checkVerdict(t, raw, err)
		if err == nil {
			jws, perr := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
			if perr != nil {
				t.Fatalf("accepted %q, which go-jose cannot parse: %v", raw, perr)
			}
			payload, verr := jws.Verify(&key.PublicKey)
			if verr != nil {
				t.Fatalf("accepted %q, not signed by the configured key: %v", raw, verr)
			}
			checkAccepted(t, raw, payload, id)
		}

		signed := signRaw(t, key, fuzzKid, claims)
		id, err = v.Verify(ctx, signed, tn)
		checkVerdict(t, signed, err)
		if err == nil {
			checkAccepted(t, signed, claims, id)
		}
		forged := signRaw(t, stranger, fuzzKid, claims)
		if _, err := v.Verify(ctx, forged, tn); err == nil {
			t.Fatalf("accepted %s, signed by a stranger's key", claims)
		}
	})
}

func checkVerdict(t *testing.T, raw string, err error) {
	t.Helper()
	var r *federation.Refusal
	if err != nil && !errors.As(err, &r) {
		t.Fatalf("%q: %v is not a refusal", raw, err)
	}
}

// checkAccepted reads the claims of an accepted token itself.
func checkAccepted(t *testing.T, raw string, payload []byte, id *federation.Identity) {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("accepted %q with claims %q that are not a JSON object: %v", raw, payload, err)
	}
	iss, _ := c["iss"].(string)
	email, _ := c[fuzzNS+"/email"].(string)
	tenant, hasTenant := c[fuzzNS+"/tenant"]
	var aud []string
	switch a := c["aud"].(type) {
	case string:
		aud = []string{a}
	case []any:
		for _, x := range a {
			s, _ := x.(string)
			aud = append(aud, s)
		}
	}
	exp := -1.0
	switch e := c["exp"].(type) {
	case float64:
		exp = e
	case string: // a JSON number in a string; go-oidc reads those too
		exp, _ = strconv.ParseFloat(e, 64)
	}
	switch {
	case iss != fuzzIssuer || id.Issuer != fuzzIssuer:
		t.Fatalf("accepted %s: issuer %q", payload, iss)
	case !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(fuzzTenant().Settings.IdP.Audiences, a) }):
		t.Fatalf("accepted %s: audience %v", payload, c["aud"])
	case exp <= float64(fuzzNow.Unix()) || !id.Expiry.After(fuzzNow):
		t.Fatalf("accepted %s: expiry %v (%v)", payload, c["exp"], id.Expiry)
	case email == "" || id.Email != email:
		t.Fatalf("accepted %s: email %q, identity %+v", payload, email, id)
	case hasTenant && tenant != "Acme":
		t.Fatalf("accepted %s: tenant %v", payload, tenant)
	}
	if nbf, ok := c["nbf"].(float64); ok && nbf > float64(fuzzNow.Add(federation.Leeway).Unix()) {
		t.Fatalf("accepted %s: not valid before %v", payload, nbf)
	}
}

// Discovery documents and key sets come from a server the tenant chose.
// Whatever they hold: Probe never panics and reports the issuer asked
// for, a jwks_uri and 1 to 50 key ids; and a verifier reading them
// accepts a token only if its signature verifies under a key they publish
// with the token's kid.
func FuzzIdPDocuments(f *testing.F) {
	key := fuzzKey(f, fuzzKeyHex)
	good := goodDocs(f)
	tok := signRaw(f, key, fuzzKid, goodClaims())
	f.Add(good.discovery, good.jwks)
	f.Add(good.discovery, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k1","alg":"HS256"}]}`))
	f.Add([]byte(`{"issuer":"https://idp.fuzz.test/","jwks_uri":"https://idp.fuzz.test/jwks"}`), good.jwks)
	f.Add([]byte(`{"issuer":"`+fuzzIssuer+`","jwks_uri":""}`), []byte(`{"keys":[]}`))
	f.Add([]byte(`{"issuer":"`+fuzzIssuer+`","jwks_uri":"file:///etc/passwd"}`), []byte(`{"keys":null}`))
	f.Add([]byte(`[]`), []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"k1"}]}`))
	f.Fuzz(func(t *testing.T, discovery, jwks []byte) {
		d := docs{discovery, jwks}
		ctx := context.Background()
		m, kids, err := federation.Probe(ctx, &http.Client{Transport: d}, fuzzIssuer)
		if err == nil && (m.Issuer != fuzzIssuer || m.JWKSURI == "" || len(kids) == 0 || len(kids) > 50) {
			t.Fatalf("Probe = %+v, %q", m, kids)
		}
		if _, err := fuzzVerifier(d).Verify(ctx, tok, fuzzTenant()); err != nil {
			return
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(jwks, &set); err != nil {
			t.Fatalf("token accepted with a key set that does not parse: %v", err)
		}
		jws, _ := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		for _, k := range set.Key(fuzzKid) {
			if _, err := jws.Verify(k.Public()); err == nil {
				return
			}
		}
		t.Fatalf("token accepted, though %s publishes no key %q that verifies it", jwks, fuzzKid)
	})
}
