// Package keys owns the signing keys of access tokens: generating them
// (ES256 by default, RS256 and EdDSA selectable), sealing their private parts
// with the master key before they reach the store, rotating with overlap
// (a retired key stays published until every token it signed has expired),
// and the JWKS built from them. Parsed keys and the JWKS bytes are cached in
// memory; nothing on the signing path touches the store.
package keys
