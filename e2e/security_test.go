package e2e

// The attacker model of RFC 9700 (OAuth 2.0 Security Best Current
// Practice) §4 and OWASP's OAuth 2.0 cheat sheet, walked against the real
// server over loopback HTTP. Each subtest is one attack: it asserts the
// refusal (the status, and the machine-readable error: RFC 6749 §5.2 JSON on
// the OAuth endpoints, an RFC 6750 WWW-Authenticate challenge on protected
// routes) and that nothing behind the refusal happened. docs/security.md
// names these tests for each defence.

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/websession"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// secFixture is a server with a gateway route and a user who signed in and
// authorized the flow's client: the target of the token attacks.
type secFixture struct {
	s   *apptest.Server
	up  *upstream
	f   *flow
	b   *http.Client  // the user's browser, signed in
	tok *oauth2.Token // genuine tokens from the authorization code flow
}

// secAPI is the protected route the attacks aim at.
const secAPI = "/api/acme/submissions"

func newSecFixture(t *testing.T) *secFixture {
	t.Helper()
	up := newUpstream(t)
	routes := submissionsRoutes(t, up.URL)
	s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) { c.Routes = routes })
	f := newFlow(t, s)
	b := browser(t)
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(t, b, f.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), true)
	tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	fx := &secFixture{s: s, up: up, f: f, b: b, tok: tok}
	fx.wantAccepted(t, tok.AccessToken) // the control: the real token passes everywhere
	return fx
}

// code runs one more authorization in the signed-in browser for conf's
// client, through the consent page (prompt=consent: the user approved
// before), and returns the code and its PKCE verifier.
func (fx *secFixture) code(t *testing.T, conf *oauth2.Config) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	q := fx.f.authorize(t, fx.b, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")), false)
	return q.Get("code"), verifier
}

// redeem presents a code at the token endpoint as client c (Basic auth);
// empty redirect or verifier are left out.
func (fx *secFixture) redeem(t *testing.T, c *admin.Client, code, redirect, verifier string) response {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	if redirect != "" {
		form.Set("redirect_uri", redirect)
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return postForm(t, fx.s, "/oauth2/token", form, c.ClientID, c.ClientSecret)
}

// wantAccepted: the gateway serves tok, introspection calls it active and
// userinfo answers for it.
func (fx *secFixture) wantAccepted(t *testing.T, tok string) {
	t.Helper()
	if r := call(t, fx.s, "GET", secAPI, tok, nil); r.Status != 200 {
		t.Fatalf("gateway refused a genuine token: %d %s", r.Status, r.Body)
	}
	if r := introspect(t, fx.s, fx.f.client, tok); r.JSON["active"] != true {
		t.Fatalf("introspection refused a genuine token: %s", r.Body)
	}
	if r := call(t, fx.s, "GET", "/oauth2/userinfo", tok, nil); r.Status != 200 {
		t.Fatalf("userinfo refused a genuine token: %d %s", r.Status, r.Body)
	}
}

// wantRefused: the gateway answers 401 invalid_token with an RFC 6750
// challenge and the upstream sees nothing; introspection says exactly
// {"active":false} (RFC 7662 §2.2); userinfo answers 401 invalid_token.
func (fx *secFixture) wantRefused(t *testing.T, name, tok string) {
	t.Helper()
	before := fx.up.count()
	challenge := `Bearer realm="` + fx.s.URL + `", error="invalid_token"`
	r := call(t, fx.s, "GET", secAPI, tok, nil)
	if r.Status != 401 || r.JSON["error"] != "invalid_token" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), challenge) {
		t.Errorf("%s: gateway %d %s (WWW-Authenticate %q), want 401 invalid_token", name, r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
	}
	if fx.up.count() != before {
		t.Errorf("%s: the request reached the upstream", name)
	}
	if r := introspect(t, fx.s, fx.f.client, tok); r.Status != 200 || string(bytes.TrimSpace(r.Body)) != `{"active":false}` {
		t.Errorf("%s: introspection %d %s, want exactly {\"active\":false}", name, r.Status, r.Body)
	}
	r = call(t, fx.s, "GET", "/oauth2/userinfo", tok, nil)
	if r.Status != 401 || r.JSON["error"] != "invalid_token" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), challenge) {
		t.Errorf("%s: userinfo %d %s (WWW-Authenticate %q), want 401 invalid_token", name, r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
	}
}

// wantOAuthError checks an RFC 6749 §5.2 error response.
func wantOAuthError(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.Status != status || r.JSON["error"] != code {
		t.Errorf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Content-Type %q, Cache-Control %q", what, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
	}
	if _, leaked := r.JSON["access_token"]; leaked {
		t.Errorf("%s: an error response carries an access token", what)
	}
}

// secJWS builds a compact JWS (RFC 7515 §7.1) from any header, so that a
// test can write headers no JOSE library would; sign nil leaves the
// signature empty, as alg "none" does.
func secJWS(header map[string]any, payload []byte, sign func(input []byte) []byte) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(payload)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func secES256(k *ecdsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		d := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64) // RFC 7518 §3.4: R || S
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func secRS256(k *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		d := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func secPS256(k *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		d := sha256.Sum256(in)
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], nil)
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func secHS256(key []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(in)
		return m.Sum(nil)
	}
}

// secAttackerKeys are keys the attacker holds.
type secAttackerKeys struct {
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
	ed  ed25519.PrivateKey
}

func newSecAttackerKeys(t *testing.T) *secAttackerKeys {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &secAttackerKeys{ec: ec, rsa: rk, ed: ed}
}

// secAttacker is a server the attacker runs; it counts every request.
type secAttacker struct {
	*httptest.Server
	hits atomic.Int64
}

func newSecAttacker(t *testing.T, h http.HandlerFunc) *secAttacker {
	a := &secAttacker{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(a.Close)
	return a
}

// serverJWKS is the key set the server publishes, parsed and as sent.
func serverJWKS(t *testing.T, s *apptest.Server) (jose.JSONWebKeySet, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/oauth2/jwks", nil)
	r := do(t, s, req)
	var set jose.JSONWebKeySet
	if r.Status != 200 || json.Unmarshal(r.Body, &set) != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %d %s", r.Status, r.Body)
	}
	return set, r.Body
}

func keyByAlg(t *testing.T, set jose.JSONWebKeySet, alg string) jose.JSONWebKey {
	t.Helper()
	for _, k := range set.Keys {
		if k.Algorithm == alg {
			return k
		}
	}
	t.Fatalf("no %s key in the JWKS", alg)
	return jose.JSONWebKey{}
}

// payloadOf is a genuine token's claims: a forgery carries them unchanged,
// so that only its header and signature can be why it is refused.
func payloadOf(t *testing.T, tok string) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// RFC 9700 §4 on the resource side, and RFC 8725 (JWT BCP) §2.1, §3.1:
// access tokens forged with the header an attacker controls.
func TestSecurityTokens(t *testing.T) {
	fx := newSecFixture(t)
	s := fx.s
	atk := newSecAttackerKeys(t)
	payload := payloadOf(t, fx.tok.AccessToken)
	genuine := decodeSegment(t, fx.tok.AccessToken, 0)
	ecKID := genuine["kid"].(string)

	t.Run("algorithm_confusion", func(t *testing.T) {
		// Publish an RS256 key beside the ES256 one, so that both classic
		// confusions have a key to aim at.
		if _, err := s.Admin.RotateKey(ctx, admin.RotateKeyInput{Alg: "RS256"}); err != nil {
			t.Fatal(err)
		}
		set, doc := serverJWKS(t, s)
		ec, rs := keyByAlg(t, set, "ES256"), keyByAlg(t, set, "RS256")
		forged := map[string]string{}
		// HS256 keyed with the server's public key, in every spelling a
		// confused verifier might use as the HMAC secret (RFC 8725 §2.1).
		for _, k := range []jose.JSONWebKey{ec, rs} {
			der, err := x509.MarshalPKIXPublicKey(k.Key)
			if err != nil {
				t.Fatal(err)
			}
			jwk, err := k.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			secrets := map[string][]byte{
				"PEM": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), "DER": der, "JWK": jwk,
				"JWKS document": doc,
			}
			if pub, ok := k.Key.(*rsa.PublicKey); ok {
				secrets["PKCS1 PEM"] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
				secrets["modulus"] = pub.N.Bytes()
			}
			for name, sec := range secrets {
				for _, alg := range []string{"HS256", "HS512"} {
					forged[alg+" keyed with the "+k.Algorithm+" public key as "+name] = secJWS(
						map[string]any{"alg": alg, "kid": k.KeyID, "typ": "at+jwt"}, payload, secHS256(sec))
				}
			}
		}
		// alg none in its spellings, with and without a kid, with an empty
		// signature and with a genuine token's signature left on.
		realSig := fx.tok.AccessToken[strings.LastIndexByte(fx.tok.AccessToken, '.')+1:]
		for _, alg := range []string{"none", "None", "NONE", "nOnE", ""} {
			forged["alg "+alg] = secJWS(map[string]any{"alg": alg, "kid": ecKID, "typ": "at+jwt"}, payload, nil)
			forged["alg "+alg+" without kid"] = secJWS(map[string]any{"alg": alg, "typ": "at+jwt"}, payload, nil)
			noSig := secJWS(map[string]any{"alg": alg, "kid": ecKID, "typ": "at+jwt"}, payload, nil)
			forged["alg "+alg+" with a genuine signature"] = noSig + realSig
		}
		forged["no alg at all"] = secJWS(map[string]any{"kid": ecKID, "typ": "at+jwt"}, payload, secES256(atk.ec))
		// The header's alg against the key's (RFC 8725 §3.1: the key
		// decides): each signed with a key of the header's algorithm.
		forged["RS256 header, ES256 key's kid"] = secJWS(map[string]any{"alg": "RS256", "kid": ec.KeyID, "typ": "at+jwt"}, payload, secRS256(atk.rsa))
		forged["ES256 header, RS256 key's kid"] = secJWS(map[string]any{"alg": "ES256", "kid": rs.KeyID, "typ": "at+jwt"}, payload, secES256(atk.ec))
		forged["EdDSA header, ES256 key's kid"] = secJWS(map[string]any{"alg": "EdDSA", "kid": ec.KeyID, "typ": "at+jwt"}, payload,
			func(in []byte) []byte { return ed25519.Sign(atk.ed, in) })
		forged["PS256 header, RS256 key's kid"] = secJWS(map[string]any{"alg": "PS256", "kid": rs.KeyID, "typ": "at+jwt"}, payload, secPS256(atk.rsa))
		forged["ES256, right kid, attacker's key"] = secJWS(map[string]any{"alg": "ES256", "kid": ec.KeyID, "typ": "at+jwt"}, payload, secES256(atk.ec))
		forged["RS256, right kid, attacker's key"] = secJWS(map[string]any{"alg": "RS256", "kid": rs.KeyID, "typ": "at+jwt"}, payload, secRS256(atk.rsa))
		for _, name := range sortedKeys(forged) {
			fx.wantRefused(t, name, forged[name])
		}
		fx.wantAccepted(t, fx.tok.AccessToken)
	})

	t.Run("id_token_as_access_token", func(t *testing.T) {
		// RFC 9068 §4: typ must be at+jwt. The ID token is genuine, signed
		// by the same key, for the same user, but typ JWT.
		id, _ := fx.tok.Extra("id_token").(string)
		if id == "" {
			t.Fatal("no ID token")
		}
		if typ := decodeSegment(t, id, 0)["typ"]; typ != "JWT" {
			t.Fatalf("ID token typ %v", typ)
		}
		fx.wantRefused(t, "ID token", id)
	})

	t.Run("kid_injection", func(t *testing.T) {
		kids := map[string]any{
			"path traversal":        "../../etc/passwd",
			"deep path traversal":   "../../../../../../../../dev/zero",
			"file URL":              "file:///etc/passwd",
			"SQL":                   "' OR 1=1 --",
			"SQL stacked":           "x'; DROP TABLE signing_keys; --",
			"NUL":                   "abc\x00def",
			"CR LF":                 "abc\r\nX-Injected: 1",
			"URL":                   "https://evil.example/jwks.json",
			"long (4000)":           strings.Repeat("k", 4000),
			"very long (20000)":     strings.Repeat("k", 20000),
			"unknown":               "unknown-" + websession.RandomToken(),
			"empty":                 "",
			"the genuine kid, case": strings.ToUpper(ecKID),
			"number":                12345,
			"object":                map[string]any{"$ne": ""},
			"array":                 []string{ecKID},
			"null":                  nil,
		}
		for _, name := range sortedKeys(kids) {
			tok := secJWS(map[string]any{"alg": "ES256", "kid": kids[name], "typ": "at+jwt"}, payload, secES256(atk.ec))
			fx.wantRefused(t, "kid "+name, tok)
		}
		// The server kept working: no 500 above, and it still serves.
		fx.wantAccepted(t, fx.tok.AccessToken)
		for _, p := range []string{"/healthz", "/readyz"} {
			req, _ := http.NewRequest("GET", s.URL+p, nil)
			if r := do(t, s, req); r.Status != 200 {
				t.Errorf("%s after the kid attacks: %d %s", p, r.Status, r.Body)
			}
		}
	})

	t.Run("jku_x5u_jwk_headers", func(t *testing.T) {
		// The attacker publishes their own key under the attacker's kid
		// and under the server's kid, and points the token at it.
		pubJWK := func(kid string) jose.JSONWebKey {
			return jose.JSONWebKey{Key: &atk.ec.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
		}
		cert := selfSignedDER(t, atk.ec)
		srv := newSecAttacker(t, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, ".pem"):
				pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: cert})
			default:
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pubJWK("attacker"), pubJWK(ecKID)}})
			}
		})
		embedded := func(kid string) json.RawMessage {
			b, err := pubJWK(kid).MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		foreign := map[string]any{}
		if err := json.Unmarshal(payload, &foreign); err != nil {
			t.Fatal(err)
		}
		foreign["iss"] = srv.URL // an issuer the attacker controls, with discovery there
		foreignPayload, _ := json.Marshal(foreign)
		sign := secES256(atk.ec)
		forged := map[string]string{
			"jku, attacker's kid":        secJWS(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "jku": srv.URL + "/jwks.json"}, payload, sign),
			"jku, server's kid":          secJWS(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": ecKID, "jku": srv.URL + "/jwks.json"}, payload, sign),
			"embedded jwk, no kid":       secJWS(map[string]any{"alg": "ES256", "typ": "at+jwt", "jwk": embedded("")}, payload, sign),
			"embedded jwk, server's kid": secJWS(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": ecKID, "jwk": embedded(ecKID)}, payload, sign),
			"x5u":                        secJWS(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": ecKID, "x5u": srv.URL + "/cert.pem"}, payload, sign),
			"x5c":                        secJWS(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": ecKID, "x5c": []string{base64.StdEncoding.EncodeToString(cert)}}, payload, sign),
			"foreign iss with jku":       secJWS(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "jku": srv.URL + "/jwks.json"}, foreignPayload, sign),
			"foreign iss with x5u": secJWS(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "x5u": srv.URL + "/cert.pem",
				"jwk": embedded("attacker")}, foreignPayload, sign),
		}
		for _, name := range sortedKeys(forged) {
			fx.wantRefused(t, name, forged[name])
		}
		// Nothing was fetched from the attacker, then or a moment later.
		time.Sleep(200 * time.Millisecond)
		if n := srv.hits.Load(); n != 0 {
			t.Errorf("the attacker's server received %d requests", n)
		}
	})

	t.Run("access_token_in_query", func(t *testing.T) {
		// RFC 6750 §2.3 (URI query parameter) is not supported, and a
		// token in the URL is refused outright rather than ignored: it has
		// already leaked into logs and Referer headers. RFC 6750 §3.1 makes
		// that invalid_request, status 400, with a Bearer challenge.
		tok := fx.tok.AccessToken
		before := fx.up.count()
		challenge := `Bearer realm="` + s.URL + `", error="invalid_request"`
		for name, hdr := range map[string][]string{"query only": nil, "query and header": {"Authorization", "Bearer " + tok}} {
			r := call(t, s, "GET", secAPI+"?access_token="+url.QueryEscape(tok), "", nil, hdr...)
			if r.Status != 400 || r.JSON["error"] != "invalid_request" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), challenge) {
				t.Errorf("%s: %d %s (WWW-Authenticate %q), want 400 invalid_request with a challenge", name, r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
			}
		}
		// RFC 6750 §2.2 (form body) is not supported either: no credential.
		r := call(t, s, "POST", secAPI, "", strings.NewReader(url.Values{"access_token": {tok}}.Encode()),
			"Content-Type", "application/x-www-form-urlencoded")
		if r.Status != 401 || r.JSON["error"] != "missing_token" || r.Header.Get("WWW-Authenticate") != `Bearer realm="`+s.URL+`"` {
			t.Errorf("token in a form body: %d %s (WWW-Authenticate %q), want 401 with a bare challenge", r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
		}
		if fx.up.count() != before {
			t.Error("a token sent outside the Authorization header reached the upstream")
		}
		// userinfo reads the Authorization header only.
		r = call(t, s, "GET", "/oauth2/userinfo?access_token="+url.QueryEscape(tok), "", nil)
		if r.Status != 401 || r.JSON["error"] != "missing_token" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer realm="`) {
			t.Errorf("userinfo with a token in the query: %d %s", r.Status, r.Body)
		}
	})
}

// selfSignedDER is a certificate for k, as an attacker would embed in x5c.
func selfSignedDER(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RFC 9700 §4.1 (redirect URIs), §4.2 and §4.5 (code leakage and
// injection), §4.8 (PKCE downgrade), §4.14 (refresh token replay), §4.4
// (mix-up, RFC 9207).
func TestSecurityAuthorizationCode(t *testing.T) {
	fx := newSecFixture(t)
	s, f := fx.s, fx.f
	scopes := []string{"openid", "email", "submissions:read", "submissions:write"}

	t.Run("open_redirect", func(t *testing.T) {
		chal := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
		authz := func(redirect string, extra ...string) string {
			q := url.Values{"response_type": {"code"}, "client_id": {f.client.ClientID}, "redirect_uri": {redirect},
				"state": {"s"}, "code_challenge": {chal}, "code_challenge_method": {"S256"}}
			for i := 0; i+1 < len(extra); i += 2 {
				q.Add(extra[i], extra[i+1])
			}
			return s.URL + "/oauth2/authorize?" + q.Encode()
		}
		// Registered: exactly https://app.example/cb. Anything else is an
		// error page, never a redirect (RFC 9700 §4.1.3, RFC 6749 §4.1.2.1).
		bad := map[string]string{
			"unregistered":           authz("https://evil.example/cb"),
			"extra path":             authz(appCallback + "/extra"),
			"trailing slash":         authz(appCallback + "/"),
			"dot segments":           authz(appCallback + "/../../evil"),
			"extra query":            authz(appCallback + "?next=https://evil.example"),
			"fragment":               authz(appCallback + "#@evil.example"),
			"host case":              authz("https://APP.example/cb"),
			"path case":              authz("https://app.example/CB"),
			"explicit default port":  authz("https://app.example:443/cb"),
			"other port":             authz("https://app.example:8443/cb"),
			"http scheme":            authz("http://app.example/cb"),
			"userinfo good@evil":     authz("https://app.example@evil.example/cb"),
			"userinfo evil@good":     authz("https://evil.example@app.example/cb"),
			"suffix host":            authz("https://app.example.evil.example/cb"),
			"trailing dot host":      authz("https://app.example./cb"),
			"backslash":              authz(`https://app.example\@evil.example/cb`),
			"percent-encoded path":   authz("https://app.example/%63b"),
			"encoded slash":          authz("https://app.example/cb%2F..%2F..%2Fevil"),
			"protocol-relative":      authz("//evil.example/cb"),
			"javascript":             authz("javascript:alert(1)//" + appCallback),
			"empty":                  authz(""),
			"repeated, good and bad": authz(appCallback, "redirect_uri", "https://evil.example/cb"),
			"repeated, bad and good": authz("https://evil.example/cb", "redirect_uri", appCallback),
		}
		for _, name := range sortedKeys(bad) {
			resp, err := browser(t).Get(bad[name])
			if err != nil {
				t.Fatal(err)
			}
			page := body(t, resp)
			if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.Contains(string(page), "Cannot continue") {
				t.Errorf("%s: %d Location %q, want the 400 error page", name, resp.StatusCode, resp.Header.Get("Location"))
			}
			if resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s: error page without X-Frame-Options", name)
			}
		}
		// The forms carry the request in hidden fields and the server
		// validates them again: a tampered consent post is refused too.
		// (prompt=consent: the user approved this client before.)
		resp, err := fx.b.Get(authz(appCallback, "prompt", "consent"))
		if err != nil {
			t.Fatal(err)
		}
		page := body(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(string(page), `value="allow"`) {
			t.Fatalf("consent page: %d", resp.StatusCode)
		}
		resp = submit(t, fx.b, s.URL, page, url.Values{"action": {"consent"}, "decision": {"allow"}, "redirect_uri": {"https://evil.example/cb"}})
		body(t, resp)
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("consent post with a swapped redirect_uri: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		// Registration refuses what exact matching could not make safe.
		for _, uri := range []string{"https://app.example@evil.example/cb", "https://app.example/cb#x", "http://app.example/cb",
			"https://127.0.0.1/cb", "javascript://app.example/cb", "https://app.example/cb\\evil"} {
			_, err := s.Admin.CreateClient(ctx, "acme", admin.ClientInput{Name: ptr("x"), Grants: &[]string{"authorization_code"},
				RedirectURIs: &[]string{uri}, Scopes: &scopes})
			var e *admin.Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Errorf("registering %q: %v, want 400", uri, err)
			}
		}
	})

	t.Run("code_injection_and_replay", func(t *testing.T) {
		other := setup(t, s, "acme", admin.ClientInput{Grants: &[]string{"authorization_code"}, RedirectURIs: &[]string{appCallback}, Scopes: &scopes})
		const otherCallback = "https://app.example/other"
		multi := setup(t, s, "acme", admin.ClientInput{Grants: &[]string{"authorization_code"},
			RedirectURIs: &[]string{appCallback, otherCallback}, Scopes: &scopes})

		// A code stolen and presented by another client, with its own
		// valid credentials and the right verifier (RFC 6749 §4.1.3).
		code, v := fx.code(t, f.conf)
		wantOAuthError(t, "another client's code", fx.redeem(t, other, code, appCallback, v), 400, "invalid_grant")
		// A code presented with another registered redirect_uri, or none
		// after the authorization request named one (RFC 6749 §4.1.3).
		conf := *f.conf
		conf.ClientID, conf.ClientSecret = multi.ClientID, multi.ClientSecret
		code2, v2 := fx.code(t, &conf)
		wantOAuthError(t, "another redirect_uri", fx.redeem(t, multi, code2, otherCallback, v2), 400, "invalid_grant")
		wantOAuthError(t, "redirect_uri left out", fx.redeem(t, multi, code2, "", v2), 400, "invalid_grant")
		wantOAuthError(t, "unknown code", fx.redeem(t, f.client, websession.RandomToken(), appCallback, v), 400, "invalid_grant")

		// Replay (RFC 6749 §4.1.2: the second use is denied and what the
		// first issued is revoked).
		code3, v3 := fx.code(t, f.conf)
		first := fx.redeem(t, f.client, code3, appCallback, v3)
		if first.Status != 200 {
			t.Fatalf("first redemption: %d %s", first.Status, first.Body)
		}
		at, rt := first.JSON["access_token"].(string), first.JSON["refresh_token"].(string)
		fx.wantAccepted(t, at) // the gateway now holds a good verdict for it
		second := fx.redeem(t, f.client, code3, appCallback, v3)
		wantOAuthError(t, "second redemption", second, 400, "invalid_grant")
		if d, _ := second.JSON["error_description"].(string); !strings.Contains(d, "already used") {
			t.Errorf("second redemption says %q", d)
		}
		if r := introspect(t, s, f.client, at); string(bytes.TrimSpace(r.Body)) != `{"active":false}` {
			t.Errorf("the first redemption's access token after the replay: %s", r.Body)
		}
		if r := call(t, s, "GET", "/oauth2/userinfo", at, nil); r.Status != 401 || r.JSON["error"] != "invalid_token" {
			t.Errorf("userinfo after the replay: %d %s", r.Status, r.Body)
		}
		waitFor(t, func() bool { // the gateway's deny list catches up within --deny-list-refresh
			r := call(t, s, "GET", secAPI, at, nil)
			return r.Status == 401 && r.JSON["error"] == "invalid_token"
		})
		wantOAuthError(t, "refresh after the replay", refresh(t, s, f.client, rt), 400, "invalid_grant")
		events, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "oauth.code_reuse"})
		if err != nil || len(events.Items) != 1 {
			t.Errorf("code reuse events: %+v %v", events, err)
		}
	})

	t.Run("pkce_downgrade", func(t *testing.T) {
		code, v := fx.code(t, f.conf)
		chal := oauth2.S256ChallengeFromVerifier(v)
		for name, verifier := range map[string]string{
			"no code_verifier":                  "",
			"wrong verifier":                    oauth2.GenerateVerifier(),
			"the challenge as verifier (plain)": chal,
			"too short":                         v[:42],
			"too long":                          v + strings.Repeat("a", 129-len(v)),
			"not unreserved":                    v[:42] + "+",
		} {
			wantOAuthError(t, name, fx.redeem(t, f.client, code, appCallback, verifier), 400, "invalid_grant")
		}
		// The failures did not spend the code: the real verifier still works.
		if r := fx.redeem(t, f.client, code, appCallback, v); r.Status != 200 {
			t.Errorf("the right verifier after the failures: %d %s", r.Status, r.Body)
		}

		// Authorization requests without S256 go back to the client with
		// invalid_request (the redirect URI is good, RFC 6749 §4.1.2.1).
		base := url.Values{"response_type": {"code"}, "client_id": {f.client.ClientID}, "redirect_uri": {appCallback}, "state": {"s"}}
		for name, extra := range map[string]url.Values{
			"plain":                   {"code_challenge": {chal}, "code_challenge_method": {"plain"}},
			"method left out (plain)": {"code_challenge": {chal}},
			"no challenge":            {},
			"lower-case s256":         {"code_challenge": {chal}, "code_challenge_method": {"s256"}},
			"short challenge":         {"code_challenge": {chal[:42]}, "code_challenge_method": {"S256"}},
			"challenge not base64url": {"code_challenge": {chal[:42] + "="}, "code_challenge_method": {"S256"}},
		} {
			q := url.Values{}
			for k, vs := range base {
				q[k] = vs
			}
			for k, vs := range extra {
				q[k] = vs
			}
			resp, err := browser(t).Get(s.URL + "/oauth2/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body(t, resp)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), appCallback+"?") ||
				loc.Query().Get("error") != "invalid_request" || loc.Query().Get("code") != "" || loc.Query().Get("iss") != s.URL {
				t.Errorf("%s: %d %q, want a 303 to the client with error=invalid_request", name, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		// Discovery says so.
		req, _ := http.NewRequest("GET", s.URL+"/.well-known/oauth-authorization-server", nil)
		meta := do(t, s, req).JSON
		if m, _ := meta["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
			t.Errorf("code_challenge_methods_supported = %v", meta["code_challenge_methods_supported"])
		}
		// There are no public clients: a client that authenticates with
		// its id alone (token_endpoint_auth_method none) is refused even
		// with a good code and verifier.
		if m, _ := meta["token_endpoint_auth_methods_supported"].([]any); slices.Contains(m, any("none")) {
			t.Errorf("token_endpoint_auth_methods_supported = %v", m)
		}
		code, v = fx.code(t, f.conf)
		r := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {appCallback}, "code_verifier": {v}, "client_id": {f.client.ClientID}}, "", "")
		wantOAuthError(t, "client id without a secret", r, 401, "invalid_client")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("invalid_client without a Basic challenge: %q", r.Header.Get("WWW-Authenticate"))
		}
	})

	t.Run("refresh_token_reuse", func(t *testing.T) {
		// No grace window is configured (--refresh-grace 0, tenant unset):
		// any reuse of a rotated token is theft (RFC 9700 §4.14.2).
		code, v := fx.code(t, f.conf)
		r := fx.redeem(t, f.client, code, appCallback, v)
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		rt1 := r.JSON["refresh_token"].(string)
		r = refresh(t, s, f.client, rt1)
		if r.Status != 200 || r.JSON["refresh_token"] == rt1 {
			t.Fatalf("rotation: %d %s", r.Status, r.Body)
		}
		at2, rt2 := r.JSON["access_token"].(string), r.JSON["refresh_token"].(string)
		fx.wantAccepted(t, at2)
		reuse := refresh(t, s, f.client, rt1)
		wantOAuthError(t, "the rotated refresh token", reuse, 400, "invalid_grant")
		if d, _ := reuse.JSON["error_description"].(string); !strings.Contains(d, "already used") {
			t.Errorf("reuse says %q", d)
		}
		// The whole family is revoked: the legitimate holder's newer pair too.
		wantOAuthError(t, "the family's current refresh token", refresh(t, s, f.client, rt2), 400, "invalid_grant")
		if r := introspect(t, s, f.client, at2); string(bytes.TrimSpace(r.Body)) != `{"active":false}` {
			t.Errorf("the family's access token after reuse: %s", r.Body)
		}
		waitFor(t, func() bool { return call(t, s, "GET", secAPI, at2, nil).Status == 401 })
		events, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "oauth.refresh_reuse"})
		if err != nil || len(events.Items) != 1 || events.Items[0].Outcome != "failure" {
			t.Errorf("refresh reuse events: %+v %v", events, err)
		}
	})

	t.Run("mix_up_iss", func(t *testing.T) {
		// RFC 9207: iss in every authorization response, success or error,
		// equal to the issuer in the metadata.
		req, _ := http.NewRequest("GET", s.URL+"/.well-known/oauth-authorization-server", nil)
		meta := do(t, s, req).JSON
		if meta["issuer"] != s.URL || meta["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("metadata: issuer %v, iss supported %v", meta["issuer"], meta["authorization_response_iss_parameter_supported"])
		}
		verifier := oauth2.GenerateVerifier()
		consent := oauth2.SetAuthURLParam("prompt", "consent") // the user approved this client before
		resp, err := fx.b.Get(f.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), consent))
		if err != nil {
			t.Fatal(err)
		}
		resp = submit(t, fx.b, s.URL, body(t, resp), url.Values{"action": {"consent"}, "decision": {"allow"}})
		body(t, resp)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("iss") != s.URL || loc.Query().Get("code") == "" {
			t.Fatalf("authorization response: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		// The redirect carries the code: no cache may keep it.
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("authorization response Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		// A remembered consent answers the same way, with no page.
		resp, err = fx.b.Get(f.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
		loc, _ = url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("iss") != s.URL || loc.Query().Get("code") == "" ||
			resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("remembered authorization response: %d %q Cache-Control %q", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Cache-Control"))
		}
		resp, err = fx.b.Get(f.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), consent))
		if err != nil {
			t.Fatal(err)
		}
		resp = submit(t, fx.b, s.URL, body(t, resp), url.Values{"action": {"consent"}, "decision": {"deny"}})
		body(t, resp)
		loc, _ = url.Parse(resp.Header.Get("Location"))
		if loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("iss") != s.URL {
			t.Errorf("error response: %q", resp.Header.Get("Location"))
		}
	})
}

// OWASP: cross-site request forgery and clickjacking on the browser pages.
// consoleCookies opens a console page with a signed-in browser and returns
// the page's URL and the browser's CSRF and session cookies.
func consoleCookies(t *testing.T, c *http.Client, pageURL string) (page *url.URL, csrf, session string) {
	t.Helper()
	page, _ = url.Parse(pageURL)
	resp, err := c.Get(page.String())
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	for _, ck := range c.Jar.Cookies(page) {
		switch ck.Name {
		case websession.CSRFCookie:
			csrf = ck.Value
		case websession.SessionCookie:
			session = ck.Value
		}
	}
	return page, csrf, session
}

func TestSecurityConsole(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	u := patUser(t, s, "acme", "bob@acme.example")

	t.Run("csrf_on_console_forms", func(t *testing.T) {
		c := signedInClient(t, s, "bob@acme.example")
		page, csrf, session := consoleCookies(t, c, s.URL+"/console/acme/tokens")
		if csrf == "" || session == "" {
			t.Fatalf("signed in without a CSRF or session cookie (csrf %t, session %t)", csrf != "", session != "")
		}
		form := func(csrfField string) string {
			v := url.Values{"name": {"planted by evil.example"}, "expiry": {"never"}}
			if csrfField != "" {
				v.Set("csrf", csrfField)
			}
			return v.Encode()
		}
		plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		send := func(client *http.Client, body string, hdr ...string) *http.Response {
			t.Helper()
			req, _ := http.NewRequest("POST", page.String(), strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		for name, resp := range map[string]*http.Response{
			"no CSRF field":             send(c, form("")),
			"wrong CSRF field":          send(c, form(websession.RandomToken())),
			"CSRF field without cookie": send(plain, form(csrf), "Cookie", websession.SessionCookie+"="+session),
			"cross-site fetch":          send(c, form(csrf), "Sec-Fetch-Site", "cross-site"),
			"same-site fetch":           send(c, form(csrf), "Sec-Fetch-Site", "same-site"),
			"foreign Origin":            send(c, form(csrf), "Origin", "https://evil.example"),
			"null Origin":               send(c, form(csrf), "Origin", "null"),
		} {
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", name, resp.StatusCode)
			}
		}
		// Nothing changed.
		toks, err := s.Admin.ListUserTokens(ctx, "acme", u.ID, true)
		if err != nil || len(toks) != 0 {
			t.Fatalf("after the forged posts the user has %d tokens (%v)", len(toks), err)
		}
		// The control: the same post from the page itself works.
		if resp := send(c, form(csrf), "Sec-Fetch-Site", "same-origin", "Origin", s.URL); resp.StatusCode != 200 {
			t.Errorf("the console's own post: %d", resp.StatusCode)
		}
		if toks, err := s.Admin.ListUserTokens(ctx, "acme", u.ID, true); err != nil || len(toks) != 1 {
			t.Errorf("after the genuine post: %d tokens (%v)", len(toks), err)
		}
	})

	t.Run("console_next_open_redirect", func(t *testing.T) {
		// After sign-in the browser goes only to a page of this tenant's
		// console, whatever next says.
		// (Each sign-in spends an argon2id verification and one of the
		// account's ten attempts per 15 minutes: keep the list short.)
		for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example/", "/console/acme/../../..//evil.example"} {
			b := browser(t)
			resp, err := b.Get(s.URL + "/console/acme/signin")
			if err != nil {
				t.Fatal(err)
			}
			body(t, resp)
			page, _ := url.Parse(s.URL + "/console/acme/signin")
			var csrf string
			for _, ck := range b.Jar.Cookies(page) {
				if ck.Name == websession.CSRFCookie {
					csrf = ck.Value
				}
			}
			resp, err = b.PostForm(page.String(), url.Values{"email": {"bob@acme.example"}, "password": {userPassword}, "csrf": {csrf}, "next": {next}})
			if err != nil {
				t.Fatal(err)
			}
			body(t, resp)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/acme/" {
				t.Errorf("next %q: %d Location %q, want /console/acme/", next, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})

	t.Run("console_signout_ends_session", func(t *testing.T) {
		// OWASP session management: signing out must end the session on
		// the server, so that a copied cookie stops working.
		c := signedInClient(t, s, "bob@acme.example")
		page, csrf, session := consoleCookies(t, c, s.URL+"/console/acme/tokens")
		resp, err := c.PostForm(s.URL+"/console/acme/signout", url.Values{"csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", resp.StatusCode)
		}
		req, _ := http.NewRequest("GET", page.String(), nil)
		req.Header.Set("Cookie", websession.SessionCookie+"="+session)
		noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err = noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/signin") {
			t.Errorf("a session cookie copied before sign-out, used afterwards: %d to %q, want a redirect to sign in",
				resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("clickjacking_headers", func(t *testing.T) {
		f := newFlow(t, s) // an authorize page to look at
		signed := signedInClient(t, s, "bob@acme.example")
		get := func(c *http.Client, u string) *http.Response {
			t.Helper()
			resp, err := c.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			body(t, resp)
			return resp
		}
		authURL := f.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		for name, resp := range map[string]*http.Response{
			"console sign-in":      get(browser(t), s.URL+"/console/acme/signin"),
			"console tokens":       get(signed, s.URL+"/console/acme/tokens"),
			"console unknown page": get(signed, s.URL+"/console/nope/signin"),
			"authorize login":      get(browser(t), authURL),
			"authorize error page": get(browser(t), strings.Replace(authURL, url.QueryEscape(appCallback), url.QueryEscape("https://evil.example/"), 1)),
		} {
			h := resp.Header
			if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("%s (%d): X-Frame-Options %q, CSP %q", name, resp.StatusCode, h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"))
			}
			if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: Cache-Control %q, X-Content-Type-Options %q, Referrer-Policy %q", name, h.Get("Cache-Control"),
					h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
			}
		}
		// Token responses, good and bad, are never cached (RFC 6749 §5.1).
		m2m := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"read"}})
		for name, r := range map[string]response{
			"token":         postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, m2m.ClientID, m2m.ClientSecret),
			"token error":   postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, m2m.ClientID, "nope"),
			"introspection": introspect(t, s, m2m, "x"),
		} {
			if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" || r.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s (%d): Cache-Control %q, Pragma %q, X-Frame-Options %q", name, r.Status, r.Header.Get("Cache-Control"),
					r.Header.Get("Pragma"), r.Header.Get("X-Frame-Options"))
			}
		}
	})
}

// RFC 6749 §2.3 and §3.2, OWASP: the token endpoint takes credentials one
// way only, over POST, in the body or the Basic header.
func TestSecurityTokenEndpoint(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"read"}})
	other := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"read"}})
	creds := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}

	t.Run("token_endpoint_refuses_get", func(t *testing.T) {
		for _, p := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
			for _, method := range []string{"GET", "PUT", "DELETE"} {
				req, _ := http.NewRequest(method, s.URL+p+"?"+creds.Encode(), nil)
				r := do(t, s, req)
				wantOAuthError(t, method+" "+p, r, 405, "invalid_request")
				if r.Header.Get("Allow") != "POST" {
					t.Errorf("%s %s: Allow %q", method, p, r.Header.Get("Allow"))
				}
			}
		}
		// Credentials in the URL of a POST are not read either.
		req, _ := http.NewRequest("POST", s.URL+"/oauth2/token?"+creds.Encode(), strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wantOAuthError(t, "credentials in the query of a POST", do(t, s, req), 401, "invalid_client")
	})

	t.Run("client_auth_method_mismatch", func(t *testing.T) {
		basic := func(id, sec string) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(sec)))
		}
		for _, tc := range []struct {
			name, authz, body string
			status            int
			code              string
		}{
			{"Basic and client_secret in the body", basic(c.ClientID, c.ClientSecret), creds.Encode(), 400, "invalid_request"},
			{"Basic for one client, client_id of another", basic(c.ClientID, c.ClientSecret), "grant_type=client_credentials&client_id=" + other.ClientID, 400, "invalid_request"},
			{"a Bearer token as client authentication", "Bearer " + token(t, s, c, nil), "grant_type=client_credentials", 401, "invalid_client"},
			{"client_id alone (auth method none)", "", "grant_type=client_credentials&client_id=" + c.ClientID, 401, "invalid_client"},
			{"one client's secret with another's id", basic(other.ClientID, c.ClientSecret), "grant_type=client_credentials", 401, "invalid_client"},
			{"secret and id swapped", basic(c.ClientSecret, c.ClientID), "grant_type=client_credentials", 401, "invalid_client"},
		} {
			req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.authz != "" {
				req.Header.Set("Authorization", tc.authz)
			}
			r := do(t, s, req)
			wantOAuthError(t, tc.name, r, tc.status, tc.code)
			if tc.status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Basic realm="gatehouse"`) {
				t.Errorf("%s: WWW-Authenticate %q", tc.name, r.Header.Get("WWW-Authenticate"))
			}
		}
		req, _ := http.NewRequest("GET", s.URL+"/.well-known/oauth-authorization-server", nil)
		got := do(t, s, req).JSON["token_endpoint_auth_methods_supported"]
		if fmt.Sprint(got) != "[client_secret_basic client_secret_post]" {
			t.Errorf("token_endpoint_auth_methods_supported = %v", got)
		}
	})
}

// OWASP: an unknown client and a known client with a wrong secret must not
// be told apart by timing. The comparison is statistical, never against a
// wall-clock threshold: many interleaved requests of each kind, compared by
// a rank test (Mann–Whitney U) and by the ratio of their medians. The test
// fails only when both say the two differ, so scheduler noise on a shared
// machine (which moves both kinds alike, since they alternate) cannot fail
// it, while a real oracle (a slow hash on one path only, a store query on
// one path only) shows in both at once.
func TestSecurityClientAuthTiming(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{})
	// Well formed (kind, length, checksum), so both requests pass the
	// format check and reach the lookup and the hash comparison.
	wrong := secret.New(secret.ClientSecret)
	unknown := c.ClientID[:len(c.ClientID)-6] + "zzzzzz"
	if unknown == c.ClientID {
		unknown = c.ClientID[:len(c.ClientID)-6] + "yyyyyy"
	}
	base := url.Values{"grant_type": {"client_credentials"}, "client_secret": {wrong}}
	send := func(id string) float64 {
		form := url.Values{"client_id": {id}}
		for k, v := range base {
			form[k] = v
		}
		req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		start := time.Now()
		resp, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 401 {
			t.Fatalf("client %s: %d, want 401", id, resp.StatusCode)
		}
		return float64(d)
	}
	t.Run("client_auth_timing", func(t *testing.T) {
		for range 30 { // warm up: the connection, the client cache, the CPU caches
			send(unknown)
			send(c.ClientID)
		}
		const n = 250
		var a, b []float64
		for i := range n { // alternate which goes first, so neither always follows the other
			if i%2 == 0 {
				a = append(a, send(unknown))
				b = append(b, send(c.ClientID))
			} else {
				b = append(b, send(c.ClientID))
				a = append(a, send(unknown))
			}
		}
		z := mannWhitneyZ(a, b)
		ma, mb := median(a), median(b)
		ratio := ma / mb
		t.Logf("unknown client median %v, wrong secret median %v, ratio %.3f, Mann-Whitney z %.2f (|z| > 3.29 is p < 0.001)",
			time.Duration(ma), time.Duration(mb), ratio, z)
		const maxRatio = 1.25
		if math.Abs(z) > 3.29 && (ratio > maxRatio || ratio < 1/maxRatio) {
			t.Errorf("an unknown client and a wrong secret are told apart by timing: medians %v and %v (ratio %.2f), z = %.2f",
				time.Duration(ma), time.Duration(mb), ratio, z)
		}
	})
}

// mannWhitneyZ is the Mann–Whitney U statistic of a against b as a
// standard normal deviate, with the correction for ties.
func mannWhitneyZ(a, b []float64) float64 {
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	n := float64(len(all))
	var rankA, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for k := i; k < j; k++ {
			if all[k].fromA {
				rankA += rank
			}
		}
		tn := float64(j - i)
		ties += tn*tn*tn - tn
		i = j
	}
	n1, n2 := float64(len(a)), float64(len(b))
	u := rankA - n1*(n1+1)/2
	mu := n1 * n2 / 2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1))))
	return (u - mu) / sigma
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// secRaw sends bytes on a new connection to the public listener and reads
// one response. The deadline guards against a hang; it measures nothing.
func secRaw(t *testing.T, s *apptest.Server, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", s.Config.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	go io.WriteString(conn, raw) // a large body may not fit the socket buffer before the answer
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// RFC 9700 §4 leaves availability to the deployment; OWASP asks for size
// limits and timeouts: a body over the limit is refused at once, a client
// that sends slowly is cut off.
func TestSecurityBodiesAndTimeouts(t *testing.T) {
	s, up, _ := startGateway(t, apptest.SQLite(t), []string{"api:read", "api:write"}, nil)

	t.Run("oversized_and_slow_bodies", func(t *testing.T) {
		t.Run("token body over 64 KiB", func(t *testing.T) {
			body := "grant_type=client_credentials&pad=" + strings.Repeat("a", 70<<10)
			wantOAuthError(t, "form", postRaw(t, s, "/oauth2/token", "application/x-www-form-urlencoded", body), 413, "invalid_request")
			wantOAuthError(t, "JSON", postRaw(t, s, "/oauth2/token", "application/json", `{"pad":"`+strings.Repeat("a", 70<<10)+`"}`), 413, "invalid_request")
			wantOAuthError(t, "introspection", postRaw(t, s, "/oauth2/introspect", "application/x-www-form-urlencoded", body), 413, "invalid_request")
		})
		t.Run("a declared 10 MiB body is not waited for", func(t *testing.T) {
			// 80 KiB sent of 10 MiB declared, then nothing: the answer comes
			// once the cap is passed, not when the body would end.
			raw := fmt.Sprintf("POST /oauth2/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n",
				s.Config.Addr, 10<<20) + "grant_type=client_credentials&pad=" + strings.Repeat("a", 80<<10)
			resp, b := secRaw(t, s, raw)
			var e map[string]any
			if resp.StatusCode != 413 || json.Unmarshal(b, &e) != nil || e["error"] != "invalid_request" {
				t.Errorf("%d %s, want 413 invalid_request", resp.StatusCode, b)
			}
		})
		t.Run("gateway body over the route's limit", func(t *testing.T) {
			// Refused on the declared length, before any credential check.
			before := up.count()
			req, _ := http.NewRequest("POST", s.URL+"/api/acme/items", strings.NewReader(strings.Repeat("x", 2048)))
			r := do(t, s, req)
			if r.Status != 413 || r.JSON["error"] != "invalid_request" || up.count() != before {
				t.Errorf("%d %s", r.Status, r.Body)
			}
		})
		t.Run("headers over 32 KiB", func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL+"/healthz", nil)
			req.Header.Set("X-Pad", strings.Repeat("a", 100<<10))
			if r := do(t, s, req); r.Status != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%d, want 431", r.Status)
			}
		})
		t.Run("slow headers are cut off", func(t *testing.T) {
			// Slowloris: a request line, then one byte of header every
			// 250 ms, never finishing. ReadHeaderTimeout (5 s) closes it;
			// the 20 s guard only keeps a broken server from hanging the test.
			conn, err := net.Dial("tcp", s.Config.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: "+s.Config.Addr+"\r\nX-Slow: ")
			closed := make(chan error, 1)
			go func() {
				buf := make([]byte, 512)
				for {
					if _, err := conn.Read(buf); err != nil {
						closed <- err
						return
					}
				}
			}()
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			guard := time.After(20 * time.Second)
			for done := false; !done; {
				select {
				case err := <-closed:
					t.Logf("the server closed the connection after %v (%v)", time.Since(start).Round(100*time.Millisecond), err)
					done = true
				case <-tick.C:
					conn.Write([]byte("a")) //nolint:errcheck // failing once closed is the point
				case <-guard:
					t.Fatal("a client trickling its headers was not cut off within 20 s")
				}
			}
			// The server is fine afterwards.
			req, _ := http.NewRequest("GET", s.URL+"/healthz", nil)
			if r := do(t, s, req); r.Status != 200 {
				t.Errorf("healthz: %d", r.Status)
			}
		})
		t.Run("server timeouts", func(t *testing.T) {
			// The body timeout (30 s) is too long to wait for here; these are
			// the values httpx.Server gives both listeners (app.buildServers).
			// The gateway lifts read and write deadlines to an hour only for
			// a request it has authenticated and is proxying.
			srv := httpx.Server("127.0.0.1:0", http.NotFoundHandler(), slog.New(slog.DiscardHandler))
			for name, got := range map[string]time.Duration{
				"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
				"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
			} {
				want := map[string]time.Duration{"ReadHeaderTimeout": 5 * time.Second, "ReadTimeout": 30 * time.Second,
					"WriteTimeout": 60 * time.Second, "IdleTimeout": 120 * time.Second}[name]
				if got != want {
					t.Errorf("%s = %v, want %v (docs/security.md cites it)", name, got, want)
				}
			}
			if srv.MaxHeaderBytes != 32<<10 {
				t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
			}
		})
	})
}

// OWASP / the gateway's rule 5: the upstream trusts X-Gatehouse-* because
// only the gateway can set them.
func TestSecurityIdentityHeaders(t *testing.T) {
	s, up, c := startGateway(t, apptest.SQLite(t), []string{"api:read", "api:write"}, nil)
	tok := token(t, s, c, nil)
	want := map[string]string{"X-Gatehouse-Subject": c.ClientID, "X-Gatehouse-Tenant": "acme", "X-Gatehouse-Client": c.ClientID,
		"X-Gatehouse-Scopes": "api:read api:write", "X-Gatehouse-Auth": "client_credentials"}
	// upstreamSaw checks the identity headers of the last proxied request.
	upstreamSaw := func(t *testing.T, what string, want map[string]string) {
		t.Helper()
		in, _ := up.last(t)
		for h, v := range want {
			if got := in.Header.Values(h); len(got) != 1 || got[0] != v {
				t.Errorf("%s: upstream %s = %q, want exactly %q", what, h, got, v)
			}
		}
		for name, vals := range in.Header {
			if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "x-gatehouse-") {
				if _, ours := want[name]; !ours {
					t.Errorf("%s: upstream got the caller's %s: %q", what, name, vals)
				}
			}
			if strings.Contains(name, "_") {
				t.Errorf("%s: upstream got %s: %q", what, name, vals)
			}
			for _, v := range vals {
				if strings.ContainsAny(v, "\r\n") {
					t.Errorf("%s: upstream %s = %q", what, name, v)
				}
			}
		}
	}

	t.Run("identity_header_injection", func(t *testing.T) {
		spoof := []string{
			"X-Gatehouse-Subject", "admin", "X-Gatehouse-Subject", "admin2", "x-gatehouse-tenant", "globex",
			"X-GATEHOUSE-SCOPES", "admin:all", "X-Gatehouse-Client", "admin", "X-Gatehouse-Auth", "admin",
			"X-Gatehouse-Api-Version", "admin", "X-Gatehouse-Role", "admin", "X_Gatehouse_Subject", "admin",
			"X-Gatehouse_Auth", "admin", "x_gatehouse_tenant", "admin",
			"X-Forwarded-For", "6.6.6.6", "Forwarded", "for=6.6.6.6", "X-Forwarded-Host", "evil.example",
		}
		if r := call(t, s, "GET", "/api/acme/items", tok, nil, spoof...); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		upstreamSaw(t, "spoofed headers", want)
		// The forwarding headers are the gateway's too (ReverseProxy's
		// Rewrite drops the caller's; SetXForwarded sets the peer).
		in, _ := up.last(t)
		if got := in.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" || in.Header.Get("Forwarded") != "" {
			t.Errorf("upstream X-Forwarded-For %q, Forwarded %q", got, in.Header.Get("Forwarded"))
		}
		// On a versioned route the version header is the gateway's too.
		if r := call(t, s, "GET", "/external/company/programs", tok, nil, spoof...); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		v := maps.Clone(want)
		v["X-Gatehouse-Api-Version"] = "1.2"
		upstreamSaw(t, "versioned route", v)

		// Line breaks cannot smuggle a header past the gateway: net/http
		// refuses control characters in a value, a bare LF ends a header
		// line (making the smuggled one an ordinary, stripped header), and
		// an obsolete folded line is refused or joined into the value.
		host := s.Config.Addr
		for name, hdr := range map[string]string{
			"CR inside a value":   "X-Note: a\rX-Gatehouse-Subject: admin\r\n",
			"bare LF":             "X-Note: a\nX-Gatehouse-Subject: admin\r\n",
			"obs-fold":            "X-Note: a\r\n X-Gatehouse-Subject: admin\r\n",
			"NUL inside a value":  "X-Note: a\x00X-Gatehouse-Subject: admin\r\n",
			"space before colon":  "X-Gatehouse-Subject : admin\r\n",
			"tab before the name": "X-Note: a\r\n\tX-Gatehouse-Subject: admin\r\n",
		} {
			before := up.count()
			resp, b := secRaw(t, s, "GET /api/acme/items HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: Bearer "+tok+"\r\n"+hdr+"Connection: close\r\n\r\n")
			t.Logf("%s: %d", name, resp.StatusCode)
			switch {
			case resp.StatusCode == 400:
				if up.count() != before {
					t.Errorf("%s: refused, yet the upstream saw it", name)
				}
			case resp.StatusCode == 200:
				upstreamSaw(t, name, want)
			default:
				t.Errorf("%s: %d %s", name, resp.StatusCode, b)
			}
		}

		// An encoded CR LF in the path's tenant segment: refused (the token
		// does not cover that "tenant"), and the challenge that names it
		// has no line break.
		before := up.count()
		r := call(t, s, "GET", "/api/acme%0D%0AX-Gatehouse-Subject:%20admin/items", tok, nil)
		if r.Status != 403 || r.JSON["error"] != "insufficient_scope" || strings.ContainsAny(r.Header.Get("WWW-Authenticate"), "\r\n") ||
			r.Header.Get("X-Gatehouse-Subject") != "" || up.count() != before {
			t.Errorf("CR LF in the tenant segment: %d %s %q", r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
		}
		// Elsewhere in the path or the query it stays encoded data.
		for p, w := range map[string]map[string]string{
			"/external/company/programs%0D%0AX-Gatehouse-Subject:%20admin": v,
			"/api/acme/items?q=%0D%0AX-Gatehouse-Subject:%20admin":         want,
		} {
			if r := call(t, s, "GET", p, tok, nil); r.Status != 200 {
				t.Errorf("%s: %d %s", p, r.Status, r.Body)
				continue
			}
			upstreamSaw(t, p, w)
		}
		// A signed link's subject becomes X-Gatehouse-Subject: only
		// printable text can be signed.
		_, err := s.Admin.SignLink(ctx, "/api/acme/items", "user\r\nX-Gatehouse-Auth: super", time.Minute)
		var e *admin.Error
		if !errors.As(err, &e) || e.Status != 400 {
			t.Errorf("a link subject with CR LF: %v, want 400", err)
		}
	})

	t.Run("client_ip_header_spoofing", func(t *testing.T) {
		// An upstream that takes the client's address from X-Real-IP (as
		// frameworks behind a trusted proxy do) must get the address the
		// gateway saw, never one the caller chose, in any of the headers
		// that carry it.
		spoofs := []string{"X-Real-IP", "Forwarded", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP", "X-Cluster-Client-IP"}
		for _, h := range spoofs {
			if r := call(t, s, "GET", "/api/acme/items", tok, nil, h, "6.6.6.6"); r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			in, _ := up.last(t)
			for _, name := range spoofs {
				if got := in.Header.Values(name); slices.ContainsFunc(got, func(v string) bool { return strings.Contains(v, "6.6.6.6") }) {
					t.Errorf("the caller's %s reached the upstream as %s: %q", h, name, got)
				}
			}
			if got := in.Header.Get("X-Real-Ip"); got != "127.0.0.1" {
				t.Errorf("X-Real-IP at the upstream = %q, want the caller's address 127.0.0.1", got)
			}
		}
	})
}

// RFC 9700 §4 does not cover it, OWASP's SSRF sheet does: the server
// fetches tenant-chosen URLs (IdP discovery, webhooks) only from public
// addresses unless the operator allows private ones.
func TestSecurityEgress(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil) // --egress-allow-private off, the default
	if _, err := s.Admin.CreateTenant(ctx, admin.TenantInput{Name: ptr("acme")}); err != nil {
		t.Fatal(err)
	}
	internal := newSecAttacker(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"issuer":"x","jwks_uri":"x"}`)
	})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(internal.URL, "http://"))

	t.Run("ssrf_guard", func(t *testing.T) {
		for _, target := range []string{
			internal.URL, "http://localhost:" + port, "http://[::1]:" + port, "http://[::ffff:127.0.0.1]:" + port,
			"http://169.254.169.254/latest/meta-data", "http://10.0.0.1:" + port, "http://0.0.0.0:" + port,
		} {
			res, err := s.Admin.TestIdP(ctx, "acme", target)
			if err != nil {
				t.Errorf("%s: %v", target, err)
				continue
			}
			if res.OK || !strings.Contains(res.Error, "loopback, private or internal") {
				t.Errorf("%s: ok %t, error %q, want a refusal naming the destination rule", target, res.OK, res.Error)
			}
		}
		// A webhook aimed at the internal service is refused the same way.
		if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{WebhookURL: ptr(internal.URL + "/hook")}}); err != nil {
			t.Fatal(err)
		}
		d, err := s.Admin.PingWebhook(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if d.DeliveredAt != nil || !strings.Contains(d.LastError, "loopback, private or internal") {
			t.Errorf("webhook to a loopback address: %+v", d)
		}
		if n := internal.hits.Load(); n != 0 {
			t.Errorf("the internal service received %d requests", n)
		}
	})
}
