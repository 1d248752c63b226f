package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id's costs (RFC 9106 §3.1). They travel in the
// PHC string of every hash, so raising them later leaves old hashes
// verifiable.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams is RFC 9106 §4's second recommended option
// (t=3, 64 MiB, p=4) with a 128-bit salt and a 256-bit tag.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 64 * 1024, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}
}

// Bounds a PHC string's parameters must keep before it is verified: a
// hash whose parameters were tampered with must not turn a login into a
// denial of service.
const (
	maxPasswordMemory  = 1 << 20 // KiB: 1 GiB
	maxPasswordTime    = 16
	minPasswordSaltLen = 8
	maxPasswordSaltLen = 64
	minPasswordKeyLen  = 16
	maxPasswordKeyLen  = 64
)

var b64 = base64.RawStdEncoding // the PHC string format's base64: no padding

// HashPassword returns the argon2id PHC string of password with a fresh
// salt: $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<hash>.
func HashPassword(password string, p PasswordParams) string {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether password matches the PHC string, using
// the parameters the string carries and comparing in constant time.
// ErrMalformed for a string that is not an argon2id hash within bounds.
func VerifyPassword(phc, password string) (bool, error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// PasswordParamsOf returns the parameters of a PHC string (to tell whether
// a hash was made with older costs).
func PasswordParamsOf(phc string) (PasswordParams, error) {
	p, _, _, err := parsePHC(phc)
	return p, err
}

func parsePHC(phc string) (p PasswordParams, salt, key []byte, err error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, ErrMalformed
	}
	var threads uint32
	// Read, then written back: only the canonical form is accepted.
	if n, _ := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, threads) {
		return p, nil, nil, ErrMalformed
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || threads < 1 || threads > 255 || p.Time < 1 || p.Time > maxPasswordTime ||
		p.Memory < 8*threads || p.Memory > maxPasswordMemory ||
		len(salt) < minPasswordSaltLen || len(salt) > maxPasswordSaltLen || len(key) < minPasswordKeyLen || len(key) > maxPasswordKeyLen {
		return p, nil, nil, ErrMalformed
	}
	p.Threads, p.SaltLen, p.KeyLen = uint8(threads), uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
