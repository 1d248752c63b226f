// Package secret owns every secret Gatehouse mints and checks: the
// gate_<kind>_<random><checksum> format, the SHA-256 digests kept at rest,
// constant-time comparison, and the master-key envelope used for signing keys.
//
// Secrets are 256-bit random values; only their SHA-256 digest is stored.
// They are high-entropy, so a slow hash buys nothing and would cost the token
// endpoint its speed (DESIGN.md, "Decisions already taken"). Passwords are
// the exception: people choose them, so they are hashed with argon2id
// (RFC 9106) in PHC form, the parameters stored with each hash.
package secret
