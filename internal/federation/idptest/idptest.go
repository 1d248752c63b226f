// Package idptest is an identity provider for tests: its own key pairs,
// discovery and JWKS on loopback, and tokens signed as a real IdP would
// (or, on request, as an attacker would).
package idptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// IdP is a running test identity provider.
type IdP struct {
	URL string // the issuer

	srv         *httptest.Server
	mu          sync.Mutex
	keys        map[string]*ecdsa.PrivateKey // kid → key; all published
	current     string                       // the kid that signs
	JWKSFetches atomic.Int64                 // JWKS requests served
	// Down makes every endpoint answer 503 (an IdP outage).
	Down atomic.Bool
}

// New starts an IdP with one ES256 key; it stops with the test.
func New(t testing.TB) *IdP {
	idp := &IdP{keys: map[string]*ecdsa.PrivateKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": idp.URL, "jwks_uri": idp.URL + "/jwks", "authorization_endpoint": idp.URL + "/authorize",
			"token_endpoint": idp.URL + "/token", "id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		idp.JWKSFetches.Add(1)
		idp.mu.Lock()
		var set jose.JSONWebKeySet
		for kid, k := range idp.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
		}
		idp.mu.Unlock()
		json.NewEncoder(w).Encode(set)
	})
	idp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if idp.Down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	idp.URL = idp.srv.URL
	t.Cleanup(idp.srv.Close)
	idp.Rotate()
	return idp
}

// Rotate adds a new signing key (published at once; the old ones stay
// published) and returns its kid.
func (idp *IdP) Rotate() string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	kid := base64.RawURLEncoding.EncodeToString(k.PublicKey.X.Bytes()[:8])
	idp.mu.Lock()
	idp.keys[kid], idp.current = k, kid
	idp.mu.Unlock()
	return kid
}

// Publish adds k to the JWKS under kid (without making it the signer).
func (idp *IdP) Publish(kid string, k *ecdsa.PrivateKey) {
	idp.mu.Lock()
	idp.keys[kid] = k
	idp.mu.Unlock()
}

// Unpublish removes a key from the JWKS (it can still sign with SignWith).
func (idp *IdP) Unpublish(kid string) *ecdsa.PrivateKey {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	k := idp.keys[kid]
	delete(idp.keys, kid)
	return k
}

// Sign returns an ES256 JWT over claims with the current key.
func (idp *IdP) Sign(claims map[string]any) string {
	idp.mu.Lock()
	kid, k := idp.current, idp.keys[idp.current]
	idp.mu.Unlock()
	return SignWith(k, kid, claims)
}

// SignWith signs claims with any ECDSA P-256 key and kid, adding extra
// header parameters (jku, x5u: what an attacker would try).
func SignWith(k *ecdsa.PrivateKey, kid string, claims map[string]any, extra ...map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid)
	for _, h := range extra {
		for name, v := range h {
			opts = opts.WithHeader(jose.HeaderKey(name), v)
		}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, opts)
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

// Unsigned returns claims as an alg "none" JWT.
func Unsigned(claims map[string]any) string {
	return segment(map[string]any{"alg": "none", "typ": "JWT"}) + "." + segment(claims) + "."
}

// HMAC returns claims as an HS256 JWT keyed with key, as an attacker who
// feeds a public key to a confused verifier would.
func HMAC(key []byte, kid string, claims map[string]any) string {
	signing := segment(map[string]any{"alg": "HS256", "kid": kid}) + "." + segment(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func segment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}
