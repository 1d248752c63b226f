// Package clients owns API clients: their validation rules, secret rotation
// with two active secrets, client authentication against SHA-256 digests in
// constant time, an in-memory cache of parsed clients (invalidated on
// change and expiring after a short TTL so changes made on another replica
// are seen within it), and batched usage counters.
package clients
