// Package sessions owns the one state machine of refresh families, the
// chains of refresh tokens that an authorization (the refresh_token
// grant) and an API-key login (/auth/refresh) start. Both surfaces read a
// family, ask Narrow what the next access token may carry, mint it, and
// then, under the family's row lock, ask Decide what the presented refresh
// token gets: a rotation, the grace-window replay of a lost response, a
// "too early", or the end of the family (reuse, revocation, lifetime).
// The decisions are pure functions of the family, the presented
// generation, the clock and the policy, and are table-tested here; the
// surfaces only render them.
package sessions

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Policy is how one kind of family rotates.
type Policy struct {
	// Grace lets the token rotated last be presented again within this
	// long after its rotation and get the very same response (a retry of a
	// response that was lost); 0 turns it off.
	Grace time.Duration
	// EarlyRefresh refuses a refresh while the family's newest access
	// token is good for longer than Skew (API-key sessions: "refresh after
	// it expires").
	EarlyRefresh bool
	Skew         time.Duration
}

// Outcome is what a presented refresh token gets.
type Outcome int

// The outcomes, in the order Decide considers them.
const (
	// Revoked: the family was ended before; nothing is issued.
	Revoked Outcome = iota + 1
	// Ended: the family outlived its absolute lifetime.
	Ended
	// Reused: a token older than the current one (or the previous one
	// past the grace window) was presented: someone else may hold the
	// family (RFC 9700 §4.14.2). The family ends for everyone.
	Reused
	// Replay: the previous token within the grace window gets the sealed
	// last response again.
	Replay
	// TooEarly: the newest access token is still good; retry after Wait.
	TooEarly
	// Rotate: the presented token is current; the family moves on one
	// generation and the new pair is issued.
	Rotate
)

func (o Outcome) String() string {
	return [...]string{"", "revoked", "ended", "reused", "replay", "too_early", "rotate"}[o]
}

// Decision is Decide's answer.
type Decision struct {
	Outcome Outcome
	// Wait is how long until a TooEarly refresh is allowed.
	Wait time.Duration
}

// Decide says what a refresh token issued at generation presented gets
// from family f at now.
func Decide(f *store.RefreshFamily, presented int64, now time.Time, p Policy) Decision {
	switch {
	case !f.RevokedAt.IsZero():
		return Decision{Outcome: Revoked}
	case !now.Before(f.ExpiresAt):
		return Decision{Outcome: Ended}
	case presented == f.Generation-1 && p.Grace > 0 && now.Before(f.RotatedAt.Add(p.Grace)) && f.Replay != nil:
		return Decision{Outcome: Replay}
	case presented != f.Generation:
		return Decision{Outcome: Reused}
	}
	if p.EarlyRefresh {
		if allowed := CurrentExpiry(f).Add(-p.Skew); now.Before(allowed) {
			return Decision{Outcome: TooEarly, Wait: allowed.Sub(now)}
		}
	}
	return Decision{Outcome: Rotate}
}

// Advance moves f on one generation at now, recording the access token just
// minted (jti, expiry) among its live ones; replay is the sealed response
// a grace-window retry will get (nil: none).
func Advance(f *store.RefreshFamily, now time.Time, jti string, exp time.Time, replay []byte) {
	f.Generation++
	f.RotatedAt = now
	f.AccessTokens = Issued(f.AccessTokens, jti, exp, now)
	f.Replay = replay
}

// End revokes f at now (reuse, or its holder lost every scope).
func End(f *store.RefreshFamily, now time.Time) {
	f.RevokedAt, f.Replay = now, nil
}

// Issued adds an access token (jti, expiry) to a family's live ones,
// dropping those that have expired by now. The list is what revoking the
// family denies by jti.
func Issued(list []store.IssuedToken, jti string, exp, now time.Time) []store.IssuedToken {
	out := list[:0:0]
	for _, t := range list {
		if t.ExpiresAt.After(now) {
			out = append(out, t)
		}
	}
	if jti != "" {
		out = append(out, store.IssuedToken{JTI: jti, ExpiresAt: exp})
	}
	return out
}

// CurrentExpiry is when the family's newest access token expires.
func CurrentExpiry(f *store.RefreshFamily) time.Time {
	var last time.Time
	for _, t := range f.AccessTokens {
		if t.ExpiresAt.After(last) {
			last = t.ExpiresAt
		}
	}
	return last
}

// ErrWider refuses a refresh that asks for a scope the family was never
// granted (RFC 6749 §6: the scope "MUST NOT include any scope not
// originally granted").
type ErrWider struct{ Scope string }

func (e *ErrWider) Error() string { return "scope " + e.Scope + " was not granted to this session" }

// ErrScopeLost: the family's holder no longer holds any of the API scopes
// it was granted; the family ends.
var ErrScopeLost = errors.New("sessions: the holder lost every scope the session was granted")

// Narrow is the scope the next access token of a family granted granted
// may carry: what was asked for (requested, "" for everything granted),
// which must be within granted, as far as the holder may still do it now
// (holder: what the client and the user's roles allow, nil for no
// restriction). A refresh never widens. When granted had API scopes (not
// Gatehouse's own, credential.Own) and the holder holds none of them any
// more, it is ErrScopeLost. The answer keeps the order asked for.
func Narrow(granted, requested string, holder ...[]string) (string, error) {
	have := strings.Fields(granted)
	want := have
	if requested != "" {
		want = nil
		for _, s := range strings.Fields(requested) {
			if !slices.Contains(have, s) {
				return "", &ErrWider{Scope: s}
			}
			if !slices.Contains(want, s) {
				want = append(want, s)
			}
		}
	}
	api := func(s string) bool { return !credential.Own(s) }
	held := func(s string) bool { return api(s) && allowed(s, holder) }
	if slices.ContainsFunc(have, api) && !slices.ContainsFunc(have, held) {
		return "", ErrScopeLost
	}
	out := make([]string, 0, len(want))
	for _, s := range want {
		if allowed(s, holder) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), nil
}

func allowed(s string, limits [][]string) bool {
	for _, l := range limits {
		if l != nil && !slices.Contains(l, s) {
			return false
		}
	}
	return true
}
