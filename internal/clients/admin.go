package clients

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

// Grants a client may be given today.
var SupportedGrants = []string{credential.GrantClientCredentials, credential.GrantAuthorizationCode}

// Limits on client settings.
const (
	MinTTL        = time.Minute
	MaxTTL        = 30 * 24 * time.Hour
	MaxListItems  = 50
	MaxSecrets    = 2
	maxNameLength = 200
)

// InvalidError lists what is wrong with a client specification
// (problem.Invalid, every domain's validation error).
type InvalidError = problem.Invalid

// ErrTooManySecrets is returned by Rotate when two secrets are active.
var ErrTooManySecrets = problem.New(problem.KindConflict, "clients: two secrets are active; retire one before rotating",
	"two secrets are active: retire one before rotating")

// ErrLastSecret is returned when retiring the only secret.
var ErrLastSecret = problem.New(problem.KindConflict, "clients: cannot retire the only secret; rotate first",
	"the only secret cannot be retired: rotate first")

// Patch is a change to a client; nil fields are left as they are.
type Patch struct {
	Name           *string
	Grants         *[]string
	Scopes         *[]string
	Audiences      *[]string
	RedirectURIs   *[]string
	AccessTokenTTL *time.Duration
	TokenFormat    *string
	IssueQuota     *store.Quota
	// ReadLimit and WriteLimit set the client's gateway budgets; a zero
	// Quota inherits the tenant's.
	ReadLimit, WriteLimit *store.Quota
	// OwnerUserID makes the client a user-based integration ("" ends it).
	OwnerUserID *string
}

// Apply changes c and validates the result.
func (p *Patch) Apply(c *store.Client) error {
	set := func(dst *[]string, src *[]string) {
		if src != nil {
			*dst = slices.Clone(*src)
		}
	}
	if p.Name != nil {
		c.Name = *p.Name
	}
	set(&c.Grants, p.Grants)
	set(&c.Scopes, p.Scopes)
	set(&c.Audiences, p.Audiences)
	set(&c.RedirectURIs, p.RedirectURIs)
	if p.AccessTokenTTL != nil {
		c.AccessTokenTTL = *p.AccessTokenTTL
	}
	if p.TokenFormat != nil {
		c.TokenFormat = *p.TokenFormat
	}
	if p.IssueQuota != nil {
		c.IssueQuota = *p.IssueQuota
	}
	if p.ReadLimit != nil {
		c.RateLimits.Read = *p.ReadLimit
	}
	if p.WriteLimit != nil {
		c.RateLimits.Write = *p.WriteLimit
	}
	if p.OwnerUserID != nil {
		c.OwnerUserID = *p.OwnerUserID
	}
	return Validate(c)
}

// Validate checks a client's settings, listing every problem at once.
func Validate(c *store.Client) error {
	var bad []string
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > maxNameLength || !protocol.Printable(c.Name) {
		bad = append(bad, fmt.Sprintf("name is required: printable text, at most %d bytes", maxNameLength))
	}
	if len(c.Grants) == 0 {
		bad = append(bad, "at least one grant is required")
	}
	for _, g := range c.Grants {
		if !slices.Contains(SupportedGrants, g) {
			bad = append(bad, fmt.Sprintf("grant %q is not supported (supported: %s)", g, strings.Join(SupportedGrants, ", ")))
		}
	}
	for _, s := range c.Scopes {
		if !credential.ValidScope(s) {
			bad = append(bad, fmt.Sprintf("scope %q is not a valid scope token (RFC 6749 §3.3)", s))
		}
	}
	for _, a := range c.Audiences {
		if a == "" || len(a) > 512 || strings.ContainsAny(a, " ") || !protocol.Printable(a) {
			bad = append(bad, fmt.Sprintf("audience %q must be a non-empty string without spaces", a))
		}
	}
	for _, u := range c.RedirectURIs {
		if p, err := url.Parse(u); err != nil || !p.IsAbs() || p.Fragment != "" || (p.Scheme != "https" && p.Scheme != "http") || !protocol.Printable(u) || len(u) > 2048 {
			bad = append(bad, fmt.Sprintf("redirect URI %q must be an absolute http(s) URL without fragment", u))
		}
	}
	for name, list := range map[string][]string{"grants": c.Grants, "scopes": c.Scopes, "audiences": c.Audiences, "redirect_uris": c.RedirectURIs} {
		if len(list) > MaxListItems {
			bad = append(bad, fmt.Sprintf("%s: at most %d items", name, MaxListItems))
		}
		if hasDuplicates(list) {
			bad = append(bad, name+" has duplicates")
		}
	}
	if c.AccessTokenTTL != 0 && (c.AccessTokenTTL < MinTTL || c.AccessTokenTTL > MaxTTL) {
		bad = append(bad, fmt.Sprintf("access_token_ttl must be between %s and %s, or 0 for the tenant default", MinTTL, MaxTTL))
	}
	if c.TokenFormat != store.FormatJWT && c.TokenFormat != store.FormatOpaque {
		bad = append(bad, `token_format must be "jwt" or "opaque"`)
	}
	if q := c.IssueQuota; q.Count < 0 || q.Per < 0 || (q.Count > 0) != (q.Per > 0) || (q.Per > 0 && (q.Per < time.Second || q.Per > MaxTTL)) || q.Count > 1_000_000 {
		bad = append(bad, "issue_quota needs both count (at most 1000000) and per (1s to 720h), or neither")
	}
	bad = append(bad, tenants.RateLimitProblems(c.RateLimits)...)
	if len(c.OwnerUserID) > 128 || !protocol.Printable(c.OwnerUserID) || strings.ContainsAny(c.OwnerUserID, " ") {
		bad = append(bad, "owner_user_id must be a user id")
	}
	if len(bad) > 0 {
		return &InvalidError{What: "client", Problems: bad}
	}
	return nil
}

func hasDuplicates(list []string) bool {
	seen := map[string]bool{}
	for _, v := range list {
		if seen[v] {
			return true
		}
		seen[v] = true
	}
	return false
}

// Create validates and stores a new client with a fresh secret, returned
// in plaintext this once.
func (s *Service) Create(ctx context.Context, c *store.Client, ev store.Event) (string, error) {
	now := s.Now().UTC()
	if c.Grants == nil {
		c.Grants = []string{credential.GrantClientCredentials}
	}
	if c.TokenFormat == "" {
		c.TokenFormat = store.FormatJWT
	}
	if err := Validate(c); err != nil {
		return "", err
	}
	t, err := s.Store.GetTenantByID(ctx, c.TenantID)
	if err != nil {
		return "", err
	}
	if err := s.checkRedirects(c, t); err != nil {
		return "", err
	}
	if err := s.checkOwner(ctx, c.TenantID, c.OwnerUserID); err != nil {
		return "", err
	}
	plain, sec := newSecret(now, nil)
	c.Secrets = []store.ClientSecret{sec}
	c.CreatedAt, c.UpdatedAt = now, now
	ev.Target = c.ID
	if err := s.Store.CreateClient(ctx, c, ev); err != nil {
		return "", err
	}
	s.Invalidate(c.ID)
	return plain, nil
}

// Update applies a patch in one store transaction.
func (s *Service) Update(ctx context.Context, id string, p *Patch, ev store.Event) (*store.Client, error) {
	cur, err := s.Get(ctx, id)
	if err != nil {
		if errors.Is(err, ErrUnknown) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	if p.OwnerUserID != nil {
		if err := s.checkOwner(ctx, cur.Tenant.ID, *p.OwnerUserID); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, id, func(c *store.Client) error {
		if err := p.Apply(c); err != nil {
			return err
		}
		return s.checkRedirects(c, cur.Tenant)
	}, ev)
}

// checkRedirects applies the tenant's redirect URI policy and asks for one
// when the client may use the authorization code flow. An http:// URI is
// logged: it is the weaker choice a tenant opted into.
func (s *Service) checkRedirects(c *store.Client, t *store.Tenant) error {
	var bad []string
	policy := RedirectPolicy{AllowHTTP: t.Settings.AllowHTTPRedirects, AllowLocal: t.Settings.AllowLocalRedirects}
	for _, u := range c.RedirectURIs {
		if err := CheckRedirectURI(u, policy); err != nil {
			bad = append(bad, err.Error())
		} else if strings.HasPrefix(u, "http:") && s.Log != nil {
			s.Log.Warn("client registered an http redirect URI", "tenant", t.Name, "client", c.ID, "redirect_uri", u)
		}
	}
	if slices.Contains(c.Grants, credential.GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		bad = append(bad, "the authorization_code grant needs at least one redirect URI")
	}
	if len(bad) > 0 {
		return &InvalidError{What: "client", Problems: bad}
	}
	return nil
}

// checkOwner refuses an owner who is not a user of the tenant ("" is no
// owner). A user deleted later leaves the client authorizable by no one.
func (s *Service) checkOwner(ctx context.Context, tenantID, userID string) error {
	if userID == "" {
		return nil
	}
	if s.Owners == nil {
		return errors.New("clients: no owner lookup configured")
	}
	_, err := s.Owners.Get(ctx, tenantID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return &InvalidError{What: "client", Problems: []string{fmt.Sprintf("owner_user_id %q is not a user of the tenant", userID)}}
	}
	return err
}

// update runs mutate in one store transaction, stamps the change with the
// service's clock and drops the cached copy.
func (s *Service) update(ctx context.Context, id string, mutate func(*store.Client) error, ev store.Event) (*store.Client, error) {
	c, err := s.Store.UpdateClient(ctx, id, func(c *store.Client) error {
		if err := mutate(c); err != nil {
			return err
		}
		c.UpdatedAt = s.Now().UTC()
		return nil
	}, ev)
	s.Invalidate(id)
	return c, err
}

// Delete removes a client; its opaque tokens go with it.
func (s *Service) Delete(ctx context.Context, id string, ev store.Event) error {
	err := s.Store.DeleteClient(ctx, id, ev)
	s.Invalidate(id)
	return err
}

// Rotate adds a new secret and returns it in plaintext this once. The
// previous secret stays valid until it is retired or until
// previousExpiresIn passes (when positive), so integrations can roll over
// without downtime. Expired secrets are dropped.
func (s *Service) Rotate(ctx context.Context, id string, previousExpiresIn time.Duration, ev store.Event) (string, *store.Client, error) {
	now := s.Now().UTC()
	plain, sec := newSecret(now, nil)
	c, err := s.update(ctx, id, func(c *store.Client) error {
		live := c.Secrets[:0]
		for _, old := range c.Secrets {
			if old.ExpiresAt == nil || now.Before(*old.ExpiresAt) {
				if previousExpiresIn > 0 && (old.ExpiresAt == nil || old.ExpiresAt.After(now.Add(previousExpiresIn))) {
					exp := now.Add(previousExpiresIn)
					old.ExpiresAt = &exp
				}
				live = append(live, old)
			}
		}
		if len(live) >= MaxSecrets {
			return ErrTooManySecrets
		}
		c.Secrets = append(live, sec)
		return nil
	}, ev)
	if err != nil {
		return "", nil, err
	}
	return plain, c, nil
}

// GrantTenant lets the client act on another tenant: its tokens cover it
// from then on (the orgs claim). Granting twice is a no-op.
func (s *Service) GrantTenant(ctx context.Context, id, tenantID string, ev store.Event) (*store.Client, error) {
	return s.update(ctx, id, func(c *store.Client) error {
		if tenantID == c.TenantID {
			return &InvalidError{What: "client", Problems: []string{"a client always covers its own tenant"}}
		}
		if !slices.Contains(c.GrantedTenants, tenantID) {
			if len(c.GrantedTenants) >= MaxListItems {
				return &InvalidError{What: "client", Problems: []string{fmt.Sprintf("at most %d granted tenants", MaxListItems)}}
			}
			c.GrantedTenants = append(c.GrantedTenants, tenantID)
		}
		return nil
	}, ev)
}

// RevokeTenant withdraws a grant; tokens stop covering the tenant at once
// for introspection, and new tokens leave it out.
func (s *Service) RevokeTenant(ctx context.Context, id, tenantID string, ev store.Event) (*store.Client, error) {
	return s.update(ctx, id, func(c *store.Client) error {
		i := slices.Index(c.GrantedTenants, tenantID)
		if i < 0 {
			return store.ErrNotFound
		}
		c.GrantedTenants = slices.Delete(c.GrantedTenants, i, i+1)
		return nil
	}, ev)
}

// Retire removes one secret at once.
func (s *Service) Retire(ctx context.Context, id, secretID string, ev store.Event) (*store.Client, error) {
	return s.update(ctx, id, func(c *store.Client) error {
		i := slices.IndexFunc(c.Secrets, func(sec store.ClientSecret) bool { return sec.ID == secretID })
		if i < 0 {
			return store.ErrNotFound
		}
		if len(c.Secrets) == 1 {
			return ErrLastSecret
		}
		c.Secrets = slices.Delete(c.Secrets, i, i+1)
		return nil
	}, ev)
}

func newSecret(now time.Time, expires *time.Time) (string, store.ClientSecret) {
	plain := secret.New(secret.ClientSecret)
	return plain, store.ClientSecret{ID: secret.NewID("sec"), Digest: secret.Hash(plain).String(), Hint: secret.Hint(plain), CreatedAt: now, ExpiresAt: expires}
}
