package admin

import "time"

// These are the admin API's wire types; the server renders exactly these.
// Durations are whole seconds; times are RFC 3339.

// Tenant is an isolated customer organization.
type Tenant struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Settings  TenantSettings `json:"settings"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// TenantSettings are a tenant's defaults.
type TenantSettings struct {
	AccessTokenTTL int64      `json:"access_token_ttl"`
	RateLimits     RateLimits `json:"rate_limits"`
	// AllowHTTPRedirects permits http:// redirect URIs; AllowLocalRedirects
	// localhost, loopback and private addresses (development).
	AllowHTTPRedirects  bool `json:"allow_http_redirects"`
	AllowLocalRedirects bool `json:"allow_local_redirects"`
	// OneActiveIntegration allows one client with the authorization_code
	// grant in the tenant; creating a second fails with 409.
	OneActiveIntegration bool `json:"one_active_integration"`
	// SessionLifetime (seconds) bounds a user authorization however often it
	// is refreshed; RefreshGrace (seconds) lets a client retry a lost
	// refresh. 0: the server's defaults.
	SessionLifetime int64 `json:"session_lifetime"`
	RefreshGrace    int64 `json:"refresh_grace"`
	// PATMaxActive caps each user's live personal access tokens (0: 10);
	// PATForbidNever refuses tokens that never expire; PATMaxLifetime
	// (seconds, 0: none) caps a token's life.
	PATMaxActive   int   `json:"pat_max_active"`
	PATForbidNever bool  `json:"pat_forbid_never"`
	PATMaxLifetime int64 `json:"pat_max_lifetime"`
	// APISessionLifetime (seconds, 0: 24h) bounds an API-key session;
	// RefreshSkew (seconds, 0: 30) is how long before its access token
	// expires a session may refresh; APIKeyLoginsPerHour (0: 20) throttles
	// logins per API key.
	APISessionLifetime  int64 `json:"api_session_lifetime"`
	RefreshSkew         int64 `json:"refresh_skew"`
	APIKeyLoginsPerHour int   `json:"api_key_logins_per_hour"`
	// UserAuthMode is "pat" (users call the API with personal access
	// tokens) or "oauth" (with access tokens from the tenant's identity
	// provider, IdP); only one works at a time.
	UserAuthMode string      `json:"user_auth_mode"`
	IdP          IdPSettings `json:"idp"`
	// WebhookURL receives the tenant's notifications; "" for none.
	WebhookURL string `json:"webhook_url"`
	// HandOut is what the tenant's administrators may give their clients.
	HandOut HandOut `json:"hand_out"`
}

// IdPSettings name the tenant's identity provider.
type IdPSettings struct {
	Issuer             string   `json:"issuer"`
	Audiences          []string `json:"audiences"`
	ClaimNamespace     string   `json:"claim_namespace"`
	RequireTenantClaim bool     `json:"require_tenant_claim"`
}

// IdPSettingsInput changes IdP settings; nil fields are left alone.
type IdPSettingsInput struct {
	Issuer             *string   `json:"issuer,omitempty"`
	Audiences          *[]string `json:"audiences,omitempty"`
	ClaimNamespace     *string   `json:"claim_namespace,omitempty"`
	RequireTenantClaim *bool     `json:"require_tenant_claim,omitempty"`
}

// Webhook is a tenant's webhook: where deliveries go and the secret they
// are signed with (Standard Webhooks: webhook-id, webhook-timestamp,
// webhook-signature "v1,<base64 HMAC-SHA256>").
type Webhook struct {
	URL           string `json:"url"`
	SigningSecret string `json:"signing_secret"`
}

// WebhookDelivery is the state of one webhook event.
type WebhookDelivery struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	DeliveredAt *time.Time `json:"delivered_at"`
	LastError   string     `json:"last_error"`
}

// IdPTest is what a test of an identity provider's configuration found.
type IdPTest struct {
	OK      bool     `json:"ok"`
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	KeyIDs  []string `json:"key_ids"`
	Algs    []string `json:"algs"`
	Error   string   `json:"error"`
}

// TenantInput creates or changes a tenant; nil fields are left alone.
type TenantInput struct {
	Name     *string              `json:"name,omitempty"`
	Settings *TenantSettingsInput `json:"settings,omitempty"`
}

// TenantSettingsInput changes tenant settings; nil fields are left alone.
type TenantSettingsInput struct {
	AccessTokenTTL       *int64            `json:"access_token_ttl,omitempty"`
	RateLimits           *RateLimitsInput  `json:"rate_limits,omitempty"`
	AllowHTTPRedirects   *bool             `json:"allow_http_redirects,omitempty"`
	AllowLocalRedirects  *bool             `json:"allow_local_redirects,omitempty"`
	OneActiveIntegration *bool             `json:"one_active_integration,omitempty"`
	SessionLifetime      *int64            `json:"session_lifetime,omitempty"`
	RefreshGrace         *int64            `json:"refresh_grace,omitempty"`
	PATMaxActive         *int              `json:"pat_max_active,omitempty"`
	PATForbidNever       *bool             `json:"pat_forbid_never,omitempty"`
	PATMaxLifetime       *int64            `json:"pat_max_lifetime,omitempty"`
	APISessionLifetime   *int64            `json:"api_session_lifetime,omitempty"`
	RefreshSkew          *int64            `json:"refresh_skew,omitempty"`
	APIKeyLoginsPerHour  *int              `json:"api_key_logins_per_hour,omitempty"`
	UserAuthMode         *string           `json:"user_auth_mode,omitempty"`
	IdP                  *IdPSettingsInput `json:"idp,omitempty"`
	WebhookURL           *string           `json:"webhook_url,omitempty"`
	HandOut              *HandOutInput     `json:"hand_out,omitempty"`
}

// HandOut is what a tenant's administrators may give their clients in the
// console: scopes and audiences. FromRoutes: the operator set no lists, so
// these are the scopes and audiences of the gateway routes that carry
// {tenant}. Gatehouse's own scopes (openid, profile, email,
// gatehouse:tokens) are always allowed and not listed.
type HandOut struct {
	Scopes     []string `json:"scopes"`
	Audiences  []string `json:"audiences"`
	FromRoutes bool     `json:"from_routes"`
}

// HandOutInput sets what a tenant's administrators may hand out (the
// operator's decision: the console cannot change it). FromRoutes true goes
// back to the routes' scopes and audiences; otherwise each list given
// replaces the one in force.
type HandOutInput struct {
	Scopes     *[]string `json:"scopes,omitempty"`
	Audiences  *[]string `json:"audiences,omitempty"`
	FromRoutes *bool     `json:"from_routes,omitempty"`
}

// Client is an API integration. ClientSecret is set only in the response
// that created the client.
type Client struct {
	ClientID        string       `json:"client_id"`
	ClientSecret    string       `json:"client_secret,omitempty"`
	Tenant          string       `json:"tenant"`
	Name            string       `json:"name"`
	Grants          []string     `json:"grants"`
	Scopes          []string     `json:"scopes"`
	Audiences       []string     `json:"audiences"`
	RedirectURIs    []string     `json:"redirect_uris"`
	AccessTokenTTL  int64        `json:"access_token_ttl"`
	TokenFormat     string       `json:"token_format"`
	IssueQuota      Quota        `json:"issue_quota"`
	RateLimits      RateLimits   `json:"rate_limits"`
	Secrets         []SecretInfo `json:"secrets"`
	GrantedTenants  []string     `json:"granted_tenants"`
	CreatedAt       time.Time    `json:"created_at"`
	UpdatedAt       time.Time    `json:"updated_at"`
	LastUsedAt      *time.Time   `json:"last_used_at"`
	TokensIssued    int64        `json:"tokens_issued"`
	GatewayRequests int64        `json:"gateway_requests"`
	// OwnerUserID is the user a user-based integration belongs to: only
	// they may authorize it. "" for none.
	OwnerUserID string `json:"owner_user_id"`
}

// ClientInput creates or changes a client; nil fields are left alone.
type ClientInput struct {
	Name           *string          `json:"name,omitempty"`
	Grants         *[]string        `json:"grants,omitempty"`
	Scopes         *[]string        `json:"scopes,omitempty"`
	Audiences      *[]string        `json:"audiences,omitempty"`
	RedirectURIs   *[]string        `json:"redirect_uris,omitempty"`
	AccessTokenTTL *int64           `json:"access_token_ttl,omitempty"`
	TokenFormat    *string          `json:"token_format,omitempty"`
	IssueQuota     *Quota           `json:"issue_quota,omitempty"`
	RateLimits     *RateLimitsInput `json:"rate_limits,omitempty"`
	// OwnerUserID makes the client a user-based integration; "" ends it.
	OwnerUserID *string `json:"owner_user_id,omitempty"`
}

// Quota allows Count tokens (or requests) per Per seconds. As an
// issue_quota zero is off; as a rate limit zero inherits.
type Quota struct {
	Count int   `json:"count"`
	Per   int64 `json:"per"`
}

// RateLimits are a client's or tenant's gateway budgets, one for reads
// (GET, HEAD, OPTIONS) and one for writes. A zero Quota inherits the next
// level's: client, then tenant, then the server default.
type RateLimits struct {
	Read  Quota `json:"read"`
	Write Quota `json:"write"`
}

// RateLimitsInput changes gateway budgets; nil fields are left alone and a
// zero Quota goes back to inheriting.
type RateLimitsInput struct {
	Read  *Quota `json:"read,omitempty"`
	Write *Quota `json:"write,omitempty"`
}

// SecretInfo describes a client secret without revealing it.
type SecretInfo struct {
	ID        string     `json:"id"`
	Hint      string     `json:"hint"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// RotateInput asks for a new client secret; the previous ones stay valid
// until retired, or for PreviousExpiresIn seconds when that is set.
type RotateInput struct {
	PreviousExpiresIn int64 `json:"previous_expires_in,omitempty"`
}

// RotateOutput carries the new secret, shown this once.
type RotateOutput struct {
	ClientSecret string     `json:"client_secret"`
	Secret       SecretInfo `json:"secret"`
	Client       Client     `json:"client"`
}

// Event is one activity-log record.
type Event struct {
	ID        int64          `json:"id"`
	Time      time.Time      `json:"time"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	IP        string         `json:"ip"`
	UserAgent string         `json:"user_agent"`
	Outcome   string         `json:"outcome"`
	Detail    map[string]any `json:"detail"`
}

// Key is a published signing key. Current is the one signing now; a key
// published ahead of use signs from ActivatesAt.
type Key struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	Current     bool       `json:"current"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiredAt   *time.Time `json:"retired_at"`
}

// RotateKeyInput optionally picks the new key's algorithm. The new key is
// published at once and signs after the server's --key-publish-ahead,
// unless Immediate (for a compromised key: verifiers that cached the old
// key set will refuse new tokens until they refetch it).
type RotateKeyInput struct {
	Alg       string `json:"alg,omitempty"`
	Immediate bool   `json:"immediate,omitempty"`
}

// LinkInput asks for a signed file link: a GET of Path (a path the gateway
// routes, optionally with a query) that needs no bearer token until TTL
// seconds (at most 3600) have passed. Subject is who the upstream is told
// is downloading.
type LinkInput struct {
	Path    string `json:"path"`
	Subject string `json:"subject"`
	TTL     int64  `json:"ttl"`
}

// Link is a signed file link.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// User is a person who signs in to a tenant with an email and password.
// The password itself never appears; HasPassword says whether one is set.
type User struct {
	ID         string   `json:"id"`
	Tenant     string   `json:"tenant"`
	Email      string   `json:"email"`
	Name       string   `json:"name"`
	Roles      []string `json:"roles"`
	APIEnabled bool     `json:"api_enabled"`
	// APIAccess is the rule's outcome: super, api_enabled, or a member of
	// a group with api_enabled.
	APIAccess   bool     `json:"api_access"`
	HasPassword bool     `json:"has_password"`
	Groups      []string `json:"groups"` // group ids
	// RateLimits are the user's own gateway budgets (PATs, IdP tokens,
	// API-key sessions bound to the user); a zero Quota inherits the
	// tenant's.
	RateLimits  RateLimits `json:"rate_limits"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

// UserInput creates or changes a user; nil fields are left alone. A
// Password of "" removes the password (the user can no longer log in).
type UserInput struct {
	Email      *string          `json:"email,omitempty"`
	Name       *string          `json:"name,omitempty"`
	Password   *string          `json:"password,omitempty"`
	Roles      *[]string        `json:"roles,omitempty"`
	APIEnabled *bool            `json:"api_enabled,omitempty"`
	RateLimits *RateLimitsInput `json:"rate_limits,omitempty"`
}

// APIAccessInput turns api_enabled on or off for several users at once:
// all of them or, when one id is unknown, none.
type APIAccessInput struct {
	UserIDs []string `json:"user_ids"`
	Enabled *bool    `json:"enabled"`
}

// Group is a named set of a tenant's users; APIEnabled gives every member
// API access.
type Group struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Name       string    `json:"name"`
	APIEnabled bool      `json:"api_enabled"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// GroupInput creates or changes a group; nil fields are left alone.
type GroupInput struct {
	Name       *string `json:"name,omitempty"`
	APIEnabled *bool   `json:"api_enabled,omitempty"`
}

// Role maps a name to scopes: a preset, or one the tenant defined.
type Role struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	Preset bool     `json:"preset"`
}

// RoleInput defines a tenant role.
type RoleInput struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// List is one page of a listing; Next is the cursor of the following page.
type List[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next"`
}

// Error is the admin API's error body: the RFC 6749 §5.2 shape plus the
// validation problems when there are several.
type Error struct {
	Status      int      `json:"-"`
	Code        string   `json:"error"`
	Description string   `json:"error_description,omitempty"`
	Problems    []string `json:"problems,omitempty"`
}

func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	for _, p := range e.Problems {
		s += "\n  - " + p
	}
	return s
}

// PersonalToken is a user's personal access token as listings show it. The
// token itself is in Token in the response that created it, and nowhere else.
type PersonalToken struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	// Prefix is the token's first characters (gate_pat_ and four more).
	Prefix string `json:"prefix"`
	// Status is active, revoked or expired.
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"` // null: never expires
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
	// Scopes, when present, restrict the token to these of its user's
	// scopes (a token created by a narrower credential keeps that
	// credential's); absent, it acts with every scope its user's roles
	// grant.
	Scopes []string `json:"scopes,omitempty"`
	Token  string   `json:"token,omitempty"`
}

// PersonalTokenInput creates a personal access token (self-service, at
// /auth/tokens on the public listener). Expiry is "7d", "30d", "90d",
// "never", a date (YYYY-MM-DD, valid through that day, UTC) or an RFC 3339
// time.
type PersonalTokenInput struct {
	Name   string `json:"name"`
	Expiry string `json:"expiry"`
	// Scopes, when set, restrict the token to these scopes, which the
	// creating credential must hold. Unset: the creating credential's own
	// reach (all of the user's roles for an unrestricted PAT).
	Scopes *[]string `json:"scopes,omitempty"`
}

// ConsentGrant is what a user approved for a client on the consent page
// (remembered consent): an authorization by that user asking the client
// for no more than Scopes is granted without the page. gatehouse:tokens
// is never remembered, so never listed.
type ConsentGrant struct {
	ClientID   string   `json:"client_id"`
	ClientName string   `json:"client_name"`
	Scopes     []string `json:"scopes"`
	// CreatedAt is the first consent, UpdatedAt the latest (a wider one
	// adds its scopes).
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// APIKey is an API key as listings show it; the key itself (gate_ak_...)
// is in Key in the response that created it, and nowhere else.
type APIKey struct {
	ID       string `json:"id"`
	Tenant   string `json:"tenant"`
	UserID   string `json:"user_id"`   // the user it acts for, or ""
	ClientID string `json:"client_id"` // the client it acts as, or ""
	Name     string `json:"name"`
	Prefix   string `json:"prefix"`
	// Status is active, revoked or expired.
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at"` // null: never expires
	RevokedAt   *time.Time `json:"revoked_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
	Key         string     `json:"api_key,omitempty"`
}

// APIKeyInput creates an API key bound to exactly one of a user and a
// client of the tenant; a nil ExpiresAt never expires.
type APIKeyInput struct {
	Name      string     `json:"name"`
	UserID    string     `json:"user_id,omitempty"`
	ClientID  string     `json:"client_id,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}
