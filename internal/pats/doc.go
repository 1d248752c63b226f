// Package pats owns personal access tokens: a user with API access mints
// bearer tokens for themselves (gate_pat_…, shown once, kept as SHA-256),
// with an expiry chosen from presets, a date, or never, within the
// tenant's limits; revokes them; and has their last use recorded in
// batches. Authentication of a presented token is internal/authn's.
package pats
