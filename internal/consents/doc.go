// Package consents owns remembered consent: what a user approved for a
// client on the consent page, kept per (tenant, user, client) and only
// ever widened, so that a later authorization asking for no more is
// granted without the page (Covers is the rule, gatehouse:tokens its one
// exception); and the listings and withdrawals that users and operators
// make of it. Withdrawing a consent ends the client's sessions for that
// user. The authorization endpoint that applies the rule is
// internal/authserver's.
package consents
