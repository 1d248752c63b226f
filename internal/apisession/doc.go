// Package apisession serves API-key sessions, the Intergiro shape:
// POST /auth/login exchanges an API key for an access token and a refresh
// token, POST /auth/refresh rotates the pair (refused while the current
// access token is still good beyond the tenant's skew, and after the
// session's absolute lifetime), and POST /auth/logout ends the session.
// A session is a refresh family with APIKeyID set, so rotation, reuse
// detection and revocation are the store's, as for the refresh_token grant.
package apisession
