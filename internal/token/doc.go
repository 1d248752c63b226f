// Package token owns access tokens: minting RFC 9068 JWTs (typ at+jwt) and
// opaque gate_at_ tokens, and verifying them. A JWT costs no store write; an
// opaque token is a row looked up by its SHA-256 digest. Verification pins
// the algorithm to the one recorded for the key id, so a token cannot choose
// its own algorithm (no alg:none, no RS/HS confusion).
package token
