package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// compactSigner produces JWS compact serializations (RFC 7515 §7.1) for one
// key, with the protected header encoded once per key rather than once per
// token. go-jose's general signer re-marshals the header and copies the
// payload several times per call, which on the token endpoint cost about as
// much as the ES256 signature. Verification stays with go-jose (and is tested
// against it and coreos/go-oidc for every algorithm).
type compactSigner struct {
	alg      jose.SignatureAlgorithm
	key      crypto.Signer
	header   []byte // base64url of {"alg":…,"kid":…,"typ":"at+jwt"}
	idHeader []byte // the same with "typ":"JWT", for OIDC ID tokens
}

func newCompactSigner(alg jose.SignatureAlgorithm, kid string, key crypto.Signer) (*compactSigner, error) {
	switch alg {
	case jose.ES256, jose.RS256, jose.EdDSA:
	default:
		return nil, fmt.Errorf("keys: cannot sign with %s", alg)
	}
	header := func(typ string) ([]byte, error) {
		h, err := json.Marshal(struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
			Typ string `json:"typ"` // RFC 9068 §2.1 for access tokens
		}{string(alg), kid, typ})
		return base64.RawURLEncoding.AppendEncode(nil, h), err
	}
	at, err := header("at+jwt")
	if err != nil {
		return nil, err
	}
	id, err := header("JWT")
	if err != nil {
		return nil, err
	}
	return &compactSigner{alg: alg, key: key, header: at, idHeader: id}, nil
}

// sign returns header.payload.signature.
func (c *compactSigner) sign(payload []byte) (string, error) { return c.signWith(c.header, payload) }

func (c *compactSigner) signWith(header, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := c.signature(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// signature signs the JWS signing input per RFC 7518 §3.3, §3.4 and
// RFC 8037 §3.1.
func (c *compactSigner) signature(input []byte) ([]byte, error) {
	switch k := c.key.(type) {
	case *ecdsa.PrivateKey: // ES256: R || S, each 32 bytes big-endian
		digest := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	case *rsa.PrivateKey: // RS256: RSASSA-PKCS1-v1_5 with SHA-256
		digest := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	case ed25519.PrivateKey: // EdDSA over the whole input
		return ed25519.Sign(k, input), nil
	}
	return nil, fmt.Errorf("keys: unsupported key type %T", c.key)
}
