package audit

import "github.com/gatehouse/gatehouse/internal/store"

// The activity log's actions, one constant each: security branches and
// the log's readers compare these, never bare strings
// (TestActionsAreConstants holds the code to it).
const (
	// Admin credentials.
	AdminCreate store.Action = "admin.create"
	// API keys.
	APIKeyCreate store.Action = "api_key.create"
	APIKeyRevoke store.Action = "api_key.revoke"
	// API-key sessions.
	APISessionLogin  store.Action = "api_session.login"
	APISessionLogout store.Action = "api_session.logout"
	// Clients.
	ClientAuthFailed   store.Action = "client.auth_failed"
	ClientCreate       store.Action = "client.create"
	ClientDelete       store.Action = "client.delete"
	ClientGrantTenant  store.Action = "client.grant_tenant"
	ClientRetireSecret store.Action = "client.retire_secret"
	ClientRevokeTenant store.Action = "client.revoke_tenant"
	ClientRotateSecret store.Action = "client.rotate_secret"
	ClientUpdate       store.Action = "client.update"
	// Groups.
	GroupAddMember    store.Action = "group.add_member"
	GroupCreate       store.Action = "group.create"
	GroupDelete       store.Action = "group.delete"
	GroupRemoveMember store.Action = "group.remove_member"
	GroupUpdate       store.Action = "group.update"
	// Signing keys.
	KeyCreate store.Action = "key.create"
	KeyRotate store.Action = "key.rotate"
	// The authorization code flow and its sessions.
	OAuthAuthorize     store.Action = "oauth.authorize"
	OAuthCodeRedeem    store.Action = "oauth.code_redeem"
	OAuthCodeReuse     store.Action = "oauth.code_reuse"
	OAuthConsent       store.Action = "oauth.consent"
	OAuthConsentDenied store.Action = "oauth.consent_denied"
	OAuthConsentRevoke store.Action = "oauth.consent_revoke"
	OAuthFamilyRevoke  store.Action = "oauth.family_revoke"
	OAuthRefreshReuse  store.Action = "oauth.refresh_reuse"
	// Personal access tokens.
	PATCreate store.Action = "pat.create"
	PATRevoke store.Action = "pat.revoke"
	// Roles.
	RoleCreate store.Action = "role.create"
	RoleDelete store.Action = "role.delete"
	// Security events (a credential misused).
	SecurityAPIKeyLoginThrottled   store.Action = "security.api_key_login_throttled"
	SecurityAPISessionRefreshReuse store.Action = "security.api_session_refresh_reuse"
	// Tenants.
	TenantCreate store.Action = "tenant.create"
	TenantDelete store.Action = "tenant.delete"
	TenantUpdate store.Action = "tenant.update"
	// Access tokens.
	TokenRevoke store.Action = "token.revoke"
	// Users and their sign-ins.
	UserCreate      store.Action = "user.create"
	UserDelete      store.Action = "user.delete"
	UserDisableAPI  store.Action = "user.disable_api"
	UserEnableAPI   store.Action = "user.enable_api"
	UserLogin       store.Action = "user.login"
	UserLoginFailed store.Action = "user.login_failed"
	UserLogout      store.Action = "user.logout"
	UserUpdate      store.Action = "user.update"
)
