package store

import "time"

// Tenant is an isolated customer organization.
type Tenant struct {
	ID        string
	Name      string // case-sensitive, unique, used in URLs
	Settings  TenantSettings
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TenantSettings are the per-tenant defaults.
type TenantSettings struct {
	// AccessTokenTTL is the default lifetime of access tokens for clients
	// that do not set their own.
	AccessTokenTTL time.Duration `json:"access_token_ttl"`
	// RateLimits override the server's gateway budgets for the tenant's
	// credentials.
	RateLimits RateLimits `json:"rate_limits,omitzero"`
	// AllowHTTPRedirects permits http:// redirect URIs; AllowLocalRedirects
	// localhost, loopback and private addresses (development).
	AllowHTTPRedirects bool `json:"allow_http_redirects,omitempty"`
	// SessionLifetime is a refresh family's absolute life and RefreshGrace
	// the retry window of a rotation, for the tenant's users (zero: the
	// server's --refresh-family-lifetime and --refresh-grace).
	SessionLifetime     time.Duration `json:"session_lifetime,omitempty"`
	RefreshGrace        time.Duration `json:"refresh_grace,omitempty"`
	AllowLocalRedirects bool          `json:"allow_local_redirects,omitempty"`
	// OneActiveIntegration allows at most one client with the
	// authorization_code grant (an "API configuration") in the tenant; the
	// store refuses a second with OneIntegrationError.
	OneActiveIntegration bool `json:"one_active_integration,omitempty"`
	// PATMaxActive caps each user's live personal access tokens (zero:
	// DefaultPATMaxActive); PATForbidNever refuses tokens that never
	// expire; PATMaxLifetime caps a token's life (zero: no cap).
	PATMaxActive   int           `json:"pat_max_active,omitempty"`
	PATForbidNever bool          `json:"pat_forbid_never,omitempty"`
	PATMaxLifetime time.Duration `json:"pat_max_lifetime,omitempty"`
	// APISessionLifetime is an API-key session's absolute life (zero:
	// DefaultAPISessionLifetime); RefreshSkew how long before its access
	// token expires a session may refresh (zero: DefaultRefreshSkew);
	// APIKeyLoginsPerHour the logins one API key may make per hour (zero:
	// DefaultAPIKeyLoginsPerHour).
	APISessionLifetime  time.Duration `json:"api_session_lifetime,omitempty"`
	RefreshSkew         time.Duration `json:"refresh_skew,omitempty"`
	APIKeyLoginsPerHour int           `json:"api_key_logins_per_hour,omitempty"`
	// UserAuthMode is how the tenant's users call the API: AuthModePAT
	// (also "") with personal access tokens, or AuthModeOAuth with access
	// tokens from the tenant's own identity provider, IdP. Exactly one is
	// honoured at a time; switching leaves the other's credentials intact.
	UserAuthMode string      `json:"user_auth_mode,omitempty"`
	IdP          IdPSettings `json:"idp,omitzero"`
	// WebhookURL receives the tenant's notifications (PAT expiry, login
	// throttling); "" for none.
	WebhookURL string `json:"webhook_url,omitempty"`
	// HandOut, set by the operator only, is what the tenant's
	// administrators may give their clients (and, as they come, roles);
	// nil: the scopes and audiences of the gateway routes that carry
	// {tenant} (tenants.HandOut).
	HandOut *HandOut `json:"hand_out,omitempty"`
}

// HandOut lists the scopes and audiences a tenant's administrators may
// hand out.
type HandOut struct {
	Scopes    []string `json:"scopes"`
	Audiences []string `json:"audiences"`
}

// User authentication modes of a tenant.
const (
	AuthModePAT   = "pat"
	AuthModeOAuth = "oauth"
)

// OAuthMode reports whether the tenant's users authenticate through its
// identity provider rather than with personal access tokens.
func (s *TenantSettings) OAuthMode() bool { return s.UserAuthMode == AuthModeOAuth }

// IdPSettings name a tenant's own OAuth 2.0 / OpenID Connect issuer, whose
// access tokens stand for the tenant's users in AuthModeOAuth.
type IdPSettings struct {
	// Issuer is the IdP's issuer URL; its discovery document and JWKS are
	// fetched from it.
	Issuer string `json:"issuer,omitempty"`
	// Audiences are those a token must name one of in aud.
	Audiences []string `json:"audiences,omitempty"`
	// ClaimNamespace prefixes the custom claims: <ns>/email names the user
	// (their login, matched without regard to case) and <ns>/tenant, when
	// present, must equal the tenant's name exactly.
	ClaimNamespace string `json:"claim_namespace,omitempty"`
	// RequireTenantClaim refuses tokens without <ns>/tenant.
	RequireTenantClaim bool `json:"require_tenant_claim,omitempty"`
}

// API-key session defaults for a tenant that sets none.
const (
	DefaultAPISessionLifetime  = 24 * time.Hour
	DefaultRefreshSkew         = 30 * time.Second
	DefaultAPIKeyLoginsPerHour = 20
)

// DefaultPATMaxActive is the per-user limit of live personal access tokens
// for a tenant that sets none.
const DefaultPATMaxActive = 10

// RateLimits are a credential's gateway budgets, one for reads (GET, HEAD,
// OPTIONS) and one for writes. A zero Quota inherits the next level's
// (client → tenant → server default).
type RateLimits struct {
	Read  Quota `json:"read,omitzero"`
	Write Quota `json:"write,omitzero"`
}

// Token formats a client may choose.
const (
	FormatJWT    = "jwt"
	FormatOpaque = "opaque"
)

// Client is an API integration.
type Client struct {
	ID             string
	TenantID       string
	Name           string
	Grants         []string
	Scopes         []string
	Audiences      []string
	RedirectURIs   []string
	AccessTokenTTL time.Duration // zero: the tenant default
	TokenFormat    string
	IssueQuota     Quota
	RateLimits     RateLimits // gateway budgets; zero inherits the tenant's
	Secrets        []ClientSecret
	// GrantedTenants are the ids of other tenants the client may act on;
	// its tokens cover them too (the orgs claim).
	GrantedTenants []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastUsedAt     time.Time
	TokensIssued   int64
	// GatewayRequests counts calls made through the gateway with the
	// client's tokens.
	GatewayRequests int64
	// OwnerUserID, when set, makes the client a user-based integration:
	// only that user of the tenant may authorize it.
	OwnerUserID string
}

// Quota limits token issuance: at most Count tokens per Per. Zero is off.
type Quota struct {
	Count int           `json:"count"`
	Per   time.Duration `json:"per"`
}

// ClientSecret is one of at most two active secrets of a client.
type ClientSecret struct {
	ID        string     `json:"id"`
	Digest    string     `json:"digest"` // hex SHA-256
	Hint      string     `json:"hint"`   // non-secret prefix for display
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// ClientUsage is a batched usage record: one client's counts within one
// UTC hour.
type ClientUsage struct {
	ClientID string
	Hour     time.Time // the start of the hour the counts fall in
	Issued   int64
	Requests int64 // gateway requests let through
	Rejected int64 // gateway requests refused by the rate limit
	LastUsed time.Time
}

// SigningKey is an asymmetric key that signs access tokens.
type SigningKey struct {
	ID        string    // the JWS kid
	Alg       string    // ES256, RS256, EdDSA
	Sealed    []byte    // private key (PKCS#8 DER) sealed with the master key
	Public    []byte    // public JWK, JSON
	CreatedAt time.Time // published in the JWKS from then
	// ActivatesAt is when the key starts signing: CreatedAt, or later for a
	// key published ahead of use (a zero value reads as CreatedAt).
	ActivatesAt time.Time
	RetiredAt   *time.Time // when a newer key takes over signing (may be ahead)
}

// OpaqueToken is an access token looked up by digest.
type OpaqueToken struct {
	Digest    string
	ClientID  string
	TenantID  string
	Subject   string
	Scope     string
	Audience  []string
	Orgs      []string
	Auth      string
	IssuedAt  time.Time
	ExpiresAt time.Time
	Revoked   bool
	// JTI is the token's id on the deny list, and SessionID the refresh
	// family it came from ("" for none), as a JWT's jti and sid claims.
	JTI       string
	SessionID string
}

// AdminCredential is a bearer credential for the admin API.
type AdminCredential struct {
	ID        string
	Name      string
	Digest    string
	CreatedAt time.Time
}

// User is a person who signs in to a tenant with an email and password.
type User struct {
	ID       string
	TenantID string
	Email    string // as given; unique per tenant ignoring case
	Name     string
	// PasswordHash is an argon2id PHC string with its parameters; empty:
	// the user cannot log in.
	PasswordHash string
	Roles        []string // preset or tenant role names
	APIEnabled   bool
	Groups       []string // ids of the groups the user belongs to; filled on Get
	// RateLimits override the tenant's gateway budgets for the user's own
	// credentials (PATs, IdP tokens, API-key sessions bound to the user).
	RateLimits  RateLimits
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt time.Time
}

// Group is a named set of a tenant's users.
type Group struct {
	ID         string
	TenantID   string
	Name       string // unique per tenant
	APIEnabled bool   // grants API access to every member
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Role is a tenant-defined role: a name for a set of scopes.
type Role struct {
	TenantID string
	Name     string
	Scopes   []string
}

// Action is what an activity-log record says happened; package audit names
// every one.
type Action string

// Event is one activity-log record.
type Event struct {
	ID        int64
	Time      time.Time
	TenantID  string // empty for server-wide events
	Actor     string // "admin:<id>", "client:<id>", "system"
	Action    Action // e.g. "client.create", "client.auth_failed" (audit's constants)
	Target    string
	IP        string
	UserAgent string
	Outcome   string // "success" or "failure"
	Detail    map[string]any
}

// AuthCode is an issued authorization code (RFC 6749 §4.1.2), kept by the
// SHA-256 of its value.
type AuthCode struct {
	Digest      string
	ClientID    string
	TenantID    string
	UserID      string
	RedirectURI string
	Scope       string
	Nonce       string
	Challenge   string // PKCE S256 code_challenge
	AuthTime    time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time // zero until redeemed
	FamilyID    string    // the refresh family its redemption started
}

// RefreshFamily is the chain of refresh tokens one authorization starts.
// Each rotation bumps Generation; a token is current only while the
// generation it was issued at is the family's.
type RefreshFamily struct {
	ID       string
	ClientID string // empty for an API-key session bound to a user
	// APIKeyID is the API key that started the family (an API-key
	// session); empty for the authorization code flow.
	APIKeyID   string
	TenantID   string
	UserID     string
	Scope      string
	Nonce      string
	AuthTime   time.Time
	CreatedAt  time.Time
	ExpiresAt  time.Time // absolute: past it, the user authorizes again
	Generation int64
	RotatedAt  time.Time // when Generation last moved
	// Replay is the last rotation's response, sealed, kept for the grace
	// window so that a client retrying a lost response gets the same pair.
	Replay    []byte
	RevokedAt time.Time
	// AccessTokens are the family's access tokens that may still be live,
	// denied with it when it is revoked.
	AccessTokens []IssuedToken
}

// IssuedToken is an access token's id and expiry.
type IssuedToken struct {
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"exp"`
}

// EmailKey is the one form emails are compared in, by sign-in, identity
// providers' tokens and the admin API alike: ASCII letters folded to lower
// case and nothing else. Unicode case folding would let a look-alike match
// an address it is not ("\u212Aen@…", with the Kelvin sign, folds to
// "ken@…"); users' emails are refused a non-ASCII local part
// (users.ValidEmail), so no look-alike can be one.
func EmailKey(email string) string {
	b := []byte(email)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
