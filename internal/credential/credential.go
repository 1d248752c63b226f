// Package credential is the vocabulary of Gatehouse's authorization model:
// the kinds of bearer credential a principal can come from, the OAuth grant
// types, and the scopes Gatehouse itself defines. Security decisions
// compare these constants, never bare strings.
package credential

// Kind is what a bearer credential is; it is the access token's auth
// claim, the X-Gatehouse-Auth header and introspection's auth member.
type Kind string

// The credential kinds. Every one resolves to a principal whose scopes are
// the credential's intersected with what its holder may do now (see
// docs/security.md, "The authorization model").
const (
	// ClientCredentials: a machine client acting for itself.
	ClientCredentials Kind = "client_credentials"
	// AuthorizationCode: a client acting for the user who authorized it
	// (the authorization code flow and its refresh tokens).
	AuthorizationCode Kind = "authorization_code"
	// APIKey: an API-key session's access token, acting for the key's
	// user or client.
	APIKey Kind = "api_key"
	// PAT: a user's personal access token.
	PAT Kind = "pat"
	// IdP: an access token from the tenant's own identity provider.
	IdP Kind = "idp"
	// SignedLink: a gateway download link signed by Gatehouse.
	SignedLink Kind = "signed_link"
)

// Grant types of the token endpoint (RFC 6749).
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// ScopeTokens lets a delegated (authorization-code) token create, list
// and revoke its user's personal access tokens. No role grants it and no
// default scope set includes it: a client must register and request it,
// and the consent page names it in words, because a token created with it
// can do whatever the user's roles allow.
const ScopeTokens = "gatehouse:tokens"

// OIDC scopes (OpenID Connect Core §5.4): they release identity, not API
// access.
const (
	ScopeOpenID  = "openid"
	ScopeProfile = "profile"
	ScopeEmail   = "email"
)

// Own reports whether scope is one Gatehouse defines for a user's own
// account rather than one a role grants: the OIDC scopes and ScopeTokens.
// A user with API access may consent to them; no role is needed.
func Own(scope string) bool {
	switch scope {
	case ScopeOpenID, ScopeProfile, ScopeEmail, ScopeTokens:
		return true
	}
	return false
}

// ValidScope reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), of a sane length.
func ValidScope(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
