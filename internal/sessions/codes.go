package sessions

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Why a code cannot be redeemed; the surface words each for the client.
var (
	// ErrBadCode: the code is expired, or another client's (RFC 6749
	// §4.1.3: "ensure that the authorization code was issued to the
	// authenticated confidential client"). Told apart from an unknown
	// code by nobody.
	ErrBadCode = errors.New("sessions: the authorization code is invalid, expired, or for another client")
	// ErrRedirectMismatch: RFC 6749 §4.1.3, redirect_uri is "REQUIRED, if
	// the redirect_uri parameter was included in the authorization
	// request ..., and their values MUST be identical".
	ErrRedirectMismatch = errors.New("sessions: redirect_uri does not match the authorization request")
	// ErrVerifier: RFC 7636 §4.6, the verifier does not hash to the
	// challenge.
	ErrVerifier = errors.New("sessions: code_verifier does not match the code_challenge")
)

// CheckCode decides whether client may redeem code c at now with
// redirectURI and verifier. Single use is the store's (RedeemAuthCode's
// conditional update), decided atomically after this.
func CheckCode(c *store.AuthCode, client, redirectURI, verifier string, now time.Time) error {
	switch {
	case c.ClientID != client || !now.Before(c.ExpiresAt):
		return ErrBadCode
	case c.RedirectURI != "" && redirectURI != c.RedirectURI:
		return ErrRedirectMismatch
	case !PKCEMatches(verifier, c.Challenge):
		return ErrVerifier
	}
	return nil
}

// PKCEMatches checks an RFC 7636 S256 verifier: 43 to 128 unreserved
// characters (§4.1) whose SHA-256, base64url without padding, is the
// challenge (§4.6), compared in constant time.
func PKCEMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 || !Unreserved(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// Unreserved reports whether s uses only RFC 3986 unreserved characters.
func Unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
