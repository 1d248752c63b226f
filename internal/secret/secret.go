package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
)

// Kind says what a secret is for; it is the middle part of gate_<kind>_.
type Kind string

const (
	ClientSecret        Kind = "sk"  // OAuth client secret
	PersonalAccessToken Kind = "pat" // a user's own bearer token
	APIKey              Kind = "ak"  // exchanged at /auth/login only
	RefreshToken        Kind = "rt"  // one link of a refresh family
	AccessToken         Kind = "at"  // opaque access token
	AdminToken          Kind = "adm" // admin API credential
)

var kinds = map[Kind]bool{ClientSecret: true, PersonalAccessToken: true, APIKey: true, RefreshToken: true, AccessToken: true, AdminToken: true}

const (
	alphabet    = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" // big.Int.Text(62)
	randomBytes = 32
	randomLen   = 43 // base62 digits needed for 256 bits
	checksumLen = 6  // base62 digits needed for a CRC-32
	prefix      = "gate_"
)

// ErrMalformed is returned for any string that is not a well-formed secret of
// the expected kind. Parse failures are decided without any lookup.
var ErrMalformed = errors.New("secret: malformed")

// Digest is the SHA-256 of a secret, the only form kept at rest.
type Digest [sha256.Size]byte

// String renders the digest as lowercase hex, the form stored in the database.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Equal compares two digests in constant time.
func (d Digest) Equal(o Digest) bool { return subtle.ConstantTimeCompare(d[:], o[:]) == 1 }

// ParseDigest reads the hex form written by Digest.String.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, ErrMalformed
	}
	copy(d[:], b)
	return d, nil
}

// Hash returns the digest of a plaintext secret.
func Hash(plain string) Digest { return sha256.Sum256([]byte(plain)) }

// New mints a fresh secret of the given kind.
func New(kind Kind) string {
	if !kinds[kind] {
		panic("secret: unknown kind " + string(kind))
	}
	var b [randomBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	head := prefix + string(kind) + "_" + encode(b[:], randomLen)
	return head + checksum(head)
}

// Parse checks that s is a well-formed secret of the wanted kind, including
// its checksum, so that typos and foreign tokens are refused before any
// store lookup.
func Parse(s string, want Kind) error {
	got, err := KindOf(s)
	if err != nil {
		return err
	}
	if got != want {
		return ErrMalformed
	}
	return nil
}

// KindOf returns the kind of a well-formed secret.
func KindOf(s string) (Kind, error) {
	if !strings.HasPrefix(s, prefix) {
		return "", ErrMalformed
	}
	rest := s[len(prefix):]
	i := strings.IndexByte(rest, '_')
	if i <= 0 {
		return "", ErrMalformed
	}
	kind, tail := Kind(rest[:i]), rest[i+1:]
	if !kinds[kind] || len(tail) != randomLen+checksumLen {
		return "", ErrMalformed
	}
	for i := 0; i < len(tail); i++ {
		if strings.IndexByte(alphabet, tail[i]) < 0 {
			return "", ErrMalformed
		}
	}
	head := s[:len(s)-checksumLen]
	if subtle.ConstantTimeCompare([]byte(checksum(head)), []byte(s[len(head):])) != 1 {
		return "", ErrMalformed
	}
	return kind, nil
}

// Hint is the non-secret prefix shown in listings so a user can tell tokens
// apart: the kind and the first few random characters.
func Hint(s string) string {
	n := strings.LastIndexByte(s, '_') + 5
	if n > len(s) || n < 5 {
		return ""
	}
	return s[:n]
}

// checksum is the CRC-32 of head in checksumLen base62 digits (the
// GitHub token-format scheme), so scanners and Parse can check it offline.
func checksum(head string) string {
	c := crc32.ChecksumIEEE([]byte(head))
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[c%62]
		c /= 62
	}
	return string(out[:])
}

// encode renders b in base62, left-padded with '0' to width digits.
func encode(b []byte, width int) string {
	n := new(big.Int).SetBytes(b)
	out := []byte(n.Text(62))
	if len(out) < width {
		out = append([]byte(strings.Repeat("0", width-len(out))), out...)
	}
	return string(out)
}
