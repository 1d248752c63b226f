package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MasterKeySize is the length of the server master key: AES-256.
const MasterKeySize = 32

// Sealer encrypts data at rest (signing keys) with the server master key,
// using AES-256-GCM with a random nonce per message, and derives keys for
// other purposes from it (Derive).
type Sealer struct {
	aead cipher.AEAD
	prk  []byte // HKDF-Extract of the master key, for Derive
}

// NewSealer builds a Sealer from a 32-byte master key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("secret: master key must be %d bytes, got %d", MasterKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, key, []byte("gatehouse derive v1"))
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, prk: prk}, nil
}

// Derive returns a 32-byte key for purpose (e.g. "webhook "+tenantID),
// stable for as long as the master key is: HKDF-SHA256 keyed by the master
// key, so no purpose's key tells anything about another's or the master.
func (s *Sealer) Derive(purpose string) []byte {
	k, err := hkdf.Expand(sha256.New, s.prk, purpose, 32)
	if err != nil {
		panic(err) // only for lengths HKDF-SHA256 cannot produce
	}
	return k
}

// ParseMasterKey decodes a master key written as base64 (standard or URL
// alphabet, padded or not) or as 64 hex digits.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == MasterKeySize {
			return b, nil
		}
	}
	if len(s) == 2*MasterKeySize {
		if d, err := ParseDigest(s); err == nil {
			return d[:], nil
		}
	}
	return nil, fmt.Errorf("secret: master key must be %d bytes in base64 or hex", MasterKeySize)
}

// NewMasterKey returns a fresh random master key in base64.
func NewMasterKey() string {
	b := make([]byte, MasterKeySize)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Seal encrypts plain; aad binds the ciphertext to its context (e.g. the key id).
func (s *Sealer) Seal(plain, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plain, aad)
}

// ErrUnseal means the ciphertext was not sealed with this master key and aad.
var ErrUnseal = errors.New("secret: cannot decrypt (wrong master key?)")

// Open decrypts what Seal produced.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrUnseal
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}
