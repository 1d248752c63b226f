// Package tenants owns tenant rules: names (case-sensitive, URL-safe,
// unique) and settings with their bounds, including those of gateway
// budgets, which clients' own budgets share.
package tenants

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidName reports whether name can be a tenant's.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// InvalidError lists what is wrong with a tenant (problem.Invalid, every
// domain's validation error).
type InvalidError = problem.Invalid

// Validate checks a tenant's name and settings.
func Validate(t *store.Tenant) error {
	var bad []string
	if !namePattern.MatchString(t.Name) {
		bad = append(bad, "name must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if ttl := t.Settings.AccessTokenTTL; ttl != 0 && (ttl < time.Minute || ttl > 30*24*time.Hour) {
		bad = append(bad, "access_token_ttl must be between 1m and 720h, or 0 for the server default")
	}
	if l := t.Settings.SessionLifetime; l != 0 && (l < time.Hour || l > 365*24*time.Hour) {
		bad = append(bad, "session_lifetime must be between 1h and 8760h, or 0 for the server default")
	}
	if g := t.Settings.RefreshGrace; g < 0 || g > time.Minute {
		bad = append(bad, "refresh_grace must be between 0 and 60 seconds, or 0 for the server default")
	}
	if n := t.Settings.PATMaxActive; n < 0 || n > 1000 {
		bad = append(bad, "pat_max_active must be 0 (the default, 10) to 1000")
	}
	if l := t.Settings.PATMaxLifetime; l != 0 && (l < 24*time.Hour || l > 10*365*24*time.Hour) {
		bad = append(bad, "pat_max_lifetime must be 0 (no cap) or one day to ten years")
	}
	if l := t.Settings.APISessionLifetime; l != 0 && (l < 5*time.Minute || l > 365*24*time.Hour) {
		bad = append(bad, "api_session_lifetime must be between 5m and 8760h, or 0 for the default (24h)")
	}
	if k := t.Settings.RefreshSkew; k < 0 || k > 24*time.Hour {
		bad = append(bad, "refresh_skew must be between 1s and 24h, or 0 for the default (30s)")
	}
	if n := t.Settings.APIKeyLoginsPerHour; n < 0 || n > 100_000 {
		bad = append(bad, "api_key_logins_per_hour must be 0 (the default, 20) to 100000")
	}
	bad = append(bad, RateLimitProblems(t.Settings.RateLimits)...)
	bad = append(bad, authModeProblems(&t.Settings)...)
	if h := t.Settings.HandOut; h != nil {
		bad = append(bad, handOutProblems(h)...)
	}
	if u := t.Settings.WebhookURL; u != "" {
		if p := urlProblem(u); p != "" {
			bad = append(bad, "webhook_url "+p)
		}
	}
	if len(bad) > 0 {
		return &InvalidError{What: "tenant", Problems: bad}
	}
	return nil
}

// authModeProblems checks the user authentication mode and, in oauth mode,
// that the identity provider is fully named.
func authModeProblems(s *store.TenantSettings) []string {
	var bad []string
	switch s.UserAuthMode {
	case "", store.AuthModePAT, store.AuthModeOAuth:
	default:
		bad = append(bad, `user_auth_mode must be "pat" or "oauth"`)
	}
	idp := s.IdP
	if idp.Issuer != "" {
		if p := urlProblem(idp.Issuer); p != "" {
			bad = append(bad, "idp.issuer "+p)
		}
	}
	for _, a := range idp.Audiences {
		// No commas or surrounding spaces: the console edits the list as
		// comma-separated text, and must give back what it was shown.
		if a == "" || len(a) > 512 || strings.Contains(a, ",") || strings.TrimSpace(a) != a {
			bad = append(bad, "idp.audiences must be non-empty strings of at most 512 characters, without commas or surrounding spaces")
			break
		}
	}
	if len(idp.Audiences) > 20 {
		bad = append(bad, "idp.audiences holds at most 20 values")
	}
	if ns := idp.ClaimNamespace; ns != "" && (len(ns) > 200 || strings.HasSuffix(ns, "/") || strings.ContainsAny(ns, " \t\r\n")) {
		bad = append(bad, `idp.claim_namespace must be at most 200 characters without spaces or a trailing "/" (e.g. https://example.com)`)
	}
	if s.OAuthMode() && (idp.Issuer == "" || len(idp.Audiences) == 0 || idp.ClaimNamespace == "") {
		bad = append(bad, "user_auth_mode oauth needs idp.issuer, idp.audiences and idp.claim_namespace")
	}
	return bad
}

// urlProblem says what is wrong with an outbound URL (an IdP issuer or a
// webhook), or "" if nothing: absolute http(s), no credentials or fragment.
// Whether plain http may be used is the egress client's decision (dev
// mode only).
func urlProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || len(raw) > 2048 || strings.TrimSpace(raw) != raw:
		return "must be a URL of at most 2048 characters, without surrounding spaces"
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return "must be an absolute https URL"
	case u.User != nil:
		return "must not hold credentials"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment"
	}
	return ""
}

// Bounds of one gateway budget: a count per period.
const (
	MaxRateCount = 1_000_000
	MinRatePer   = time.Second
	MaxRatePer   = 24 * time.Hour
)

// RateLimitProblems lists what is wrong with gateway budgets, a tenant's
// or a client's: each must be zero, to inherit the next level's, or a count
// of 1 to MaxRateCount per MinRatePer to MaxRatePer.
func RateLimitProblems(rl store.RateLimits) []string {
	var bad []string
	for _, l := range []struct {
		name string
		q    store.Quota
	}{{"read", rl.Read}, {"write", rl.Write}} {
		if q := l.q; q != (store.Quota{}) && (q.Count < 1 || q.Count > MaxRateCount || q.Per < MinRatePer || q.Per > MaxRatePer) {
			bad = append(bad, fmt.Sprintf("rate_limits.%s needs both count (1 to %d) and per (1s to 24h), or neither to inherit",
				l.name, MaxRateCount))
		}
	}
	return bad
}

// Service changes tenants.
type Service struct {
	Store store.Tenants
	Now   func() time.Time
	// Changed is called after any change (to drop caches that embed tenants).
	Changed func()
}

// Create validates and stores a tenant.
func (s *Service) Create(ctx context.Context, t *store.Tenant, ev store.Event) error {
	if err := Validate(t); err != nil {
		return err
	}
	now := s.Now().UTC()
	t.ID, t.CreatedAt, t.UpdatedAt = secret.NewID("tn"), now, now
	ev.TenantID, ev.Target = t.ID, t.Name
	if err := s.Store.CreateTenant(ctx, t, ev); err != nil {
		return fmt.Errorf("tenant %q: %w", t.Name, err)
	}
	return nil
}

// Update applies mutate and validates the result in one transaction. A
// tenant's name never changes: it is in URLs, in issued tokens' tenant and
// orgs claims, and in integrators' configuration.
func (s *Service) Update(ctx context.Context, id string, mutate func(*store.Tenant), ev store.Event) (*store.Tenant, error) {
	t, err := s.Store.UpdateTenant(ctx, id, func(t *store.Tenant) error {
		name := t.Name
		mutate(t)
		if t.Name != name {
			return &InvalidError{What: "tenant", Problems: []string{"a tenant's name cannot change"}}
		}
		t.UpdatedAt = s.Now().UTC()
		return Validate(t)
	}, ev)
	s.changed()
	return t, err
}

// Delete removes a tenant and everything it owns.
func (s *Service) Delete(ctx context.Context, id string, ev store.Event) error {
	err := s.Store.DeleteTenant(ctx, id, ev)
	s.changed()
	return err
}

func (s *Service) changed() {
	if s.Changed != nil {
		s.Changed()
	}
}

// HandOut is what a tenant's administrators may give their clients: the
// operator's lists in the tenant's settings, else routeScopes and
// routeAudiences (those of the gateway routes that carry {tenant}); and
// always Gatehouse's own scopes (credential.Own), which grant no API
// access by themselves.
func HandOut(t *store.Tenant, routeScopes, routeAudiences []string) (scopes, audiences []string) {
	scopes, audiences = routeScopes, routeAudiences
	if h := t.Settings.HandOut; h != nil {
		scopes, audiences = h.Scopes, h.Audiences
	}
	scopes = slices.Clone(scopes)
	for _, own := range []string{credential.ScopeOpenID, credential.ScopeProfile, credential.ScopeEmail, credential.ScopeTokens} {
		if !slices.Contains(scopes, own) {
			scopes = append(scopes, own)
		}
	}
	return scopes, slices.Clone(audiences)
}

// MayHandOut checks that a client's scopes and audiences are within what
// the tenant's administrators may hand out (HandOut's lists).
func MayHandOut(scopes, audiences, allowedScopes, allowedAudiences []string) error {
	var bad []string
	for _, s := range scopes {
		if !slices.Contains(allowedScopes, s) {
			bad = append(bad, fmt.Sprintf("scope %q", s))
		}
	}
	for _, a := range audiences {
		if !slices.Contains(allowedAudiences, a) {
			bad = append(bad, fmt.Sprintf("audience %q", a))
		}
	}
	if len(bad) > 0 {
		return &NotHandedOutError{What: bad}
	}
	return nil
}

// NotHandedOutError refuses scopes or audiences the operator does not let
// the tenant's administrators give.
type NotHandedOutError struct{ What []string }

func (e *NotHandedOutError) Error() string {
	return "the operator does not let this tenant's administrators hand out " + strings.Join(e.What, ", ")
}

// Forbidden is its behaviour (403).
func (e *NotHandedOutError) Forbidden() bool { return true }

func handOutProblems(h *store.HandOut) []string {
	var bad []string
	if len(h.Scopes) > MaxHandOut || len(h.Audiences) > MaxHandOut {
		bad = append(bad, fmt.Sprintf("hand_out lists hold at most %d values each", MaxHandOut))
	}
	for _, s := range h.Scopes {
		if !credential.ValidScope(s) {
			bad = append(bad, fmt.Sprintf("hand_out.scopes: %q is not a scope token (RFC 6749 §3.3)", s))
		}
	}
	for _, a := range h.Audiences {
		if a == "" || len(a) > 512 || strings.ContainsAny(a, " ,") {
			bad = append(bad, "hand_out.audiences must be non-empty strings of at most 512 characters, without spaces or commas")
			break
		}
	}
	return bad
}

// MaxHandOut bounds each of a tenant's hand-out lists.
const MaxHandOut = 200
