// Package sdk is Gatehouse's Go client: the integrator's side of the API
// access layer, done so that the rules every reference platform spells out
// are kept without the caller thinking about them.
//
//   - A token is reused until shortly before it expires, never fetched per
//     call, and however many goroutines ask, one renewal is in flight
//     (ClientCredentials, APIKeySession, AuthorizationCode's source).
//   - An API-key session refreshes only once its access token has expired
//     (never early), always keeps the newest refresh token (optionally in a
//     SessionStore, so that a restart keeps the session) and logs in again
//     when the server says the session ended.
//   - Transport adds the bearer token, renews it once on 401 and retries a
//     request whose body can be replayed, waits out 429 Retry-After within
//     the caller's context (or fails fast), and with a Limiter keeps reads
//     and writes under their per-minute budgets so that a well-behaved
//     client never sees 429.
//   - Errors are typed: *OAuthError carries the RFC 6749 error code,
//     *RateLimitError the wait; callers use errors.As, never strings.
//
// Endpoint paths, body encodings and field names come from a Shape:
// Gatehouse's own, or the documented shapes of the reference platforms
// (IntigritiV1, Pliant, Intergiro). Tokens are golang.org/x/oauth2 tokens,
// and OAuth2 adapts any source here to an oauth2.TokenSource.
package sdk
