// Package websession owns what Gatehouse's browser pages share: the
// signed-in user's session cookie (one session for the authorize flow and
// the console), double-submit CSRF tokens, and the brute-force throttle on
// sign-in.
//
// The session cookie is stateless: tenant, user, a session id and expiry,
// with an HMAC under a key derived from the signing key it names, so every
// replica can read it and a key rotation does not sign anyone out until the
// old key is dropped. Signing out puts the session id on the token deny
// list until the session would have expired, so a copy of the cookie stops
// working on every replica too.
package websession

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/store"
)

// DenyList is where ended sessions are kept until they would have expired:
// the token deny list, durable in the store and in each replica's memory.
type DenyList interface {
	// Denied reports whether the entry is on the list (the replica's copy).
	Denied(k revocation.Kind, id string) bool
	// Deny puts the entry on the list until until, with ev, durably, and
	// at once in this replica's copy.
	Deny(ctx context.Context, k revocation.Kind, id string, until time.Time, ev store.Event) error
}

// Cookie names.
const (
	SessionCookie = "gatehouse_session"
	CSRFCookie    = "gatehouse_csrf"
)

// Lifetime of a session.
const Lifetime = 8 * time.Hour

// Sessions reads and writes the session cookie.
type Sessions struct {
	Keys *keys.Manager
	Now  func() time.Time
	// Secure marks cookies Secure (an https issuer).
	Secure bool
	// Ended holds the sessions signed out before their expiry (nil: a
	// signed-out cookie's copy stays good until it expires).
	Ended DenyList
}

type value struct {
	Tenant string `json:"t"`
	User   string `json:"u"`
	Exp    int64  `json:"e"`
	KID    string `json:"k"`
	SID    string `json:"s"`
}

// Set signs the user of the tenant in.
func (s *Sessions) Set(w http.ResponseWriter, tenantID, userID string) {
	k := s.Keys.Current()
	body, _ := json.Marshal(value{Tenant: tenantID, User: userID, Exp: s.Now().Add(Lifetime).Unix(), KID: k.ID, SID: RandomToken()})
	v := base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(k.MAC(append([]byte("session\n"), body...)))
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: v, Path: "/", MaxAge: int(Lifetime / time.Second),
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
}

// End signs out: the session in r's cookie, if any, is ended on every
// replica, with ev (the sign-out) recorded in the same write, and the
// cookie cleared. recorded is false when there was no session to end (ev
// is then the caller's to record).
func (s *Sessions) End(w http.ResponseWriter, r *http.Request, ev store.Event) (recorded bool, err error) {
	if v, ok := s.parse(r); ok && v.SID != "" && s.Ended != nil {
		if err := s.Ended.Deny(r.Context(), revocation.Session, v.SID, time.Unix(v.Exp, 0), ev); err != nil {
			return false, err
		}
		recorded = true
	}
	s.Clear(w)
	return recorded, nil
}

// Clear removes the cookie from the browser.
func (s *Sessions) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode})
}

// User returns the signed-in user of the tenant, or "".
func (s *Sessions) User(r *http.Request, tenantID string) string {
	v, ok := s.parse(r)
	if !ok || v.Tenant != tenantID {
		return ""
	}
	return v.User
}

// parse returns the session of r's cookie if it is genuine, live and not
// ended.
func (s *Sessions) parse(r *http.Request) (value, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return value{}, false
	}
	b64, sig64, ok := strings.Cut(c.Value, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	sig, err2 := base64.RawURLEncoding.DecodeString(sig64)
	var v value
	if !ok || err1 != nil || err2 != nil || json.Unmarshal(body, &v) != nil {
		return value{}, false
	}
	k, found := s.Keys.Lookup(r.Context(), v.KID)
	if !found || subtle.ConstantTimeCompare(sig, k.MAC(append([]byte("session\n"), body...))) != 1 {
		return value{}, false
	}
	if s.Now().Unix() >= v.Exp || (s.Ended != nil && v.SID != "" && s.Ended.Denied(revocation.Session, v.SID)) {
		return value{}, false
	}
	return v, true
}

// CSRF returns the token the page's forms carry: the browser's current
// CSRF cookie's when it has one (so that forms in several tabs stay good),
// else a fresh one, set as a cookie for the pages under path.
func (s *Sessions) CSRF(w http.ResponseWriter, r *http.Request, path string) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && len(c.Value) == len(RandomToken()) {
		return c.Value
	}
	t := RandomToken()
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: t, Path: path, HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteStrictMode})
	return t
}

// CSRFOK checks a parsed form's csrf field against its cookie (double
// submit), on top of the cross-origin check that should wrap the handler.
func CSRFOK(r *http.Request) bool {
	c, err := r.Cookie(CSRFCookie)
	form := r.PostForm.Get("csrf")
	return err == nil && len(c.Value) >= 32 && subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) == 1
}

// RandomToken is 256 random bits, base64url.
func RandomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Brute-force throttles on sign-in: per account and per client IP.
var (
	loginPerAccount = ratelimit.Limit{Count: 10, Period: 15 * time.Minute}
	loginPerIP      = ratelimit.Limit{Count: 60, Period: 15 * time.Minute}
)

// ThrottleLogin counts a sign-in attempt for the account (tenant, email)
// and the caller's IP; when either is over its budget it returns how long
// to wait. A limiter failure does not lock people out.
func ThrottleLogin(ctx context.Context, l ratelimit.Limiter, ip, tenantID, email string) (wait time.Duration, ok bool) {
	for _, key := range []struct {
		k string
		l ratelimit.Limit
	}{{"login:ip:" + ip, loginPerIP}, {"login:acct:" + tenantID + ":" + email, loginPerAccount}} {
		res, err := l.Allow(ctx, key.k, key.l)
		if err == nil && !res.Allowed {
			return res.RetryAfter, false
		}
	}
	return 0, true
}
