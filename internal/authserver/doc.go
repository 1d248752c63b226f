// Package authserver is the OAuth 2.0 surface on the public listener: the
// token endpoint (RFC 6749 §3.2) with its grants, introspection (RFC 7662),
// revocation (RFC 7009), server metadata (RFC 8414, OIDC Discovery) and the
// JWKS. The token endpoint owns the shared steps (body decoding, client
// authentication, response writing); each grant fills in its part.
package authserver
