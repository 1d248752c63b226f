// Package admin is a Go client for Gatehouse's admin API (/admin/v1). The
// gatehouse CLI is built on it; platform teams can script with it too.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// API calls the admin API with an admin bearer token.
type API struct {
	BaseURL string // e.g. http://127.0.0.1:8081
	Token   string
	HTTP    *http.Client
}

// New returns a client with a 30-second timeout.
func New(baseURL, token string) *API {
	return &API{BaseURL: strings.TrimSuffix(baseURL, "/"), Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

func (c *API) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			e.Code, e.Description = http.StatusText(resp.StatusCode), strings.TrimSpace(string(data))
		}
		return e
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin: decoding %s %s: %w", method, path, err)
	}
	return nil
}

func tenantPath(tenant string) string { return "/admin/v1/tenants/" + url.PathEscape(tenant) }

func clientPath(tenant, id string) string {
	return tenantPath(tenant) + "/clients/" + url.PathEscape(id)
}

// ListTenants returns one page of tenants, by name; after is a cursor.
func (c *API) ListTenants(ctx context.Context, after string, limit int) (*List[Tenant], error) {
	var out List[Tenant]
	return &out, c.do(ctx, "GET", "/admin/v1/tenants"+pageQuery(after, limit), nil, &out)
}

// CreateTenant creates a tenant.
func (c *API) CreateTenant(ctx context.Context, in TenantInput) (*Tenant, error) {
	var out Tenant
	return &out, c.do(ctx, "POST", "/admin/v1/tenants", in, &out)
}

// GetTenant returns a tenant by name.
func (c *API) GetTenant(ctx context.Context, name string) (*Tenant, error) {
	var out Tenant
	return &out, c.do(ctx, "GET", tenantPath(name), nil, &out)
}

// UpdateTenant changes a tenant.
func (c *API) UpdateTenant(ctx context.Context, name string, in TenantInput) (*Tenant, error) {
	var out Tenant
	return &out, c.do(ctx, "PATCH", tenantPath(name), in, &out)
}

// TestIdP fetches the discovery document and keys of the tenant's identity
// provider (issuer, or the configured one when "") and reports what it
// found; an unreachable IdP is a result with OK false, not an error.
func (c *API) TestIdP(ctx context.Context, tenant, issuer string) (*IdPTest, error) {
	var out IdPTest
	var in any
	if issuer != "" {
		in = map[string]string{"issuer": issuer}
	}
	return &out, c.do(ctx, "POST", tenantPath(tenant)+"/idp/test", in, &out)
}

// GetWebhook returns the tenant's webhook URL and signing secret.
func (c *API) GetWebhook(ctx context.Context, tenant string) (*Webhook, error) {
	var out Webhook
	return &out, c.do(ctx, "GET", tenantPath(tenant)+"/webhook", nil, &out)
}

// PingWebhook sends a ping to the tenant's webhook and reports how its
// first attempt went (waiting up to a few seconds for it).
func (c *API) PingWebhook(ctx context.Context, tenant string) (*WebhookDelivery, error) {
	var out WebhookDelivery
	return &out, c.do(ctx, "POST", tenantPath(tenant)+"/webhook/ping", nil, &out)
}

// DeleteTenant deletes a tenant and everything it owns.
func (c *API) DeleteTenant(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", tenantPath(name), nil, nil)
}

// ListClients returns one page of a tenant's clients.
func (c *API) ListClients(ctx context.Context, tenant, after string, limit int) (*List[Client], error) {
	var out List[Client]
	return &out, c.do(ctx, "GET", tenantPath(tenant)+"/clients"+pageQuery(after, limit), nil, &out)
}

// CreateClient creates a client; the result carries its secret, this once.
func (c *API) CreateClient(ctx context.Context, tenant string, in ClientInput) (*Client, error) {
	var out Client
	return &out, c.do(ctx, "POST", tenantPath(tenant)+"/clients", in, &out)
}

// GetClient returns a client.
func (c *API) GetClient(ctx context.Context, tenant, id string) (*Client, error) {
	var out Client
	return &out, c.do(ctx, "GET", clientPath(tenant, id), nil, &out)
}

// UpdateClient changes a client.
func (c *API) UpdateClient(ctx context.Context, tenant, id string, in ClientInput) (*Client, error) {
	var out Client
	return &out, c.do(ctx, "PATCH", clientPath(tenant, id), in, &out)
}

// DeleteClient deletes a client.
func (c *API) DeleteClient(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "DELETE", clientPath(tenant, id), nil, nil)
}

// RotateSecret adds a new client secret and returns it, this once.
func (c *API) RotateSecret(ctx context.Context, tenant, id string, in RotateInput) (*RotateOutput, error) {
	var out RotateOutput
	return &out, c.do(ctx, "POST", clientPath(tenant, id)+"/secrets", in, &out)
}

// RetireSecret removes one client secret at once.
func (c *API) RetireSecret(ctx context.Context, tenant, id, secretID string) (*Client, error) {
	var out Client
	return &out, c.do(ctx, "DELETE", clientPath(tenant, id)+"/secrets/"+url.PathEscape(secretID), nil, &out)
}

// GrantTenant lets a client act on another tenant: its tokens cover it too.
func (c *API) GrantTenant(ctx context.Context, tenant, id, other string) (*Client, error) {
	var out Client
	return &out, c.do(ctx, "PUT", clientPath(tenant, id)+"/granted-tenants/"+url.PathEscape(other), nil, &out)
}

// RevokeTenant withdraws a client's access to another tenant.
func (c *API) RevokeTenant(ctx context.Context, tenant, id, other string) (*Client, error) {
	var out Client
	return &out, c.do(ctx, "DELETE", clientPath(tenant, id)+"/granted-tenants/"+url.PathEscape(other), nil, &out)
}

// AuditQuery filters the activity log.
type AuditQuery struct {
	Since, Until time.Time
	Action       string // exact, or a prefix ending in "."
	Actor        string // exact, e.g. "user:usr_…", "client:gc_…", "admin:bootstrap"
	Outcome      string // "success" or "failure"
	Cursor       string
	Limit        int
}

// Audit returns one page of a tenant's activity log, newest first; tenant
// "" means server-wide events.
func (c *API) Audit(ctx context.Context, tenant string, q AuditQuery) (*List[Event], error) {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339))
	}
	if q.Action != "" {
		v.Set("action", q.Action)
	}
	if q.Actor != "" {
		v.Set("actor", q.Actor)
	}
	if q.Outcome != "" {
		v.Set("outcome", q.Outcome)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/admin/v1/audit"
	if tenant != "" {
		path = tenantPath(tenant) + "/audit"
	}
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out List[Event]
	return &out, c.do(ctx, "GET", path, nil, &out)
}

// ListKeys returns the published signing keys.
func (c *API) ListKeys(ctx context.Context) ([]Key, error) {
	var out List[Key]
	return out.Items, c.do(ctx, "GET", "/admin/v1/keys", nil, &out)
}

// RotateKey publishes a new signing key, which signs after the server's
// publish-ahead interval (or at once with in.Immediate).
func (c *API) RotateKey(ctx context.Context, in RotateKeyInput) (*Key, error) {
	var out Key
	return &out, c.do(ctx, "POST", "/admin/v1/keys/rotate", in, &out)
}

// SignLink signs a file link to path for subject, valid for ttl (at most an
// hour): the URL can be handed to a browser, which needs no token for it.
func (c *API) SignLink(ctx context.Context, path, subject string, ttl time.Duration) (*Link, error) {
	var out Link
	in := LinkInput{Path: path, Subject: subject, TTL: int64(ttl / time.Second)}
	return &out, c.do(ctx, "POST", "/admin/v1/links", in, &out)
}

func userPath(tenant, id string) string { return tenantPath(tenant) + "/users/" + url.PathEscape(id) }

func groupPath(tenant, id string) string { return tenantPath(tenant) + "/groups/" + url.PathEscape(id) }

// ListUsers returns one page of a tenant's users, by id; q, when set,
// keeps those whose email or name starts with it (ignoring case).
func (c *API) ListUsers(ctx context.Context, tenant, q, after string, limit int) (*List[User], error) {
	path := tenantPath(tenant) + "/users" + pageQuery(after, limit)
	if q != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "q=" + url.QueryEscape(q)
	}
	var out List[User]
	return &out, c.do(ctx, "GET", path, nil, &out)
}

// CreateUser creates a user.
func (c *API) CreateUser(ctx context.Context, tenant string, in UserInput) (*User, error) {
	var out User
	return &out, c.do(ctx, "POST", tenantPath(tenant)+"/users", in, &out)
}

// GetUser returns a user.
func (c *API) GetUser(ctx context.Context, tenant, id string) (*User, error) {
	var out User
	return &out, c.do(ctx, "GET", userPath(tenant, id), nil, &out)
}

// UpdateUser changes a user.
func (c *API) UpdateUser(ctx context.Context, tenant, id string, in UserInput) (*User, error) {
	var out User
	return &out, c.do(ctx, "PATCH", userPath(tenant, id), in, &out)
}

// DeleteUser deletes a user.
func (c *API) DeleteUser(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "DELETE", userPath(tenant, id), nil, nil)
}

// SetAPIAccess turns api_enabled on or off for every listed user, or for
// none when one id is unknown.
func (c *API) SetAPIAccess(ctx context.Context, tenant string, ids []string, enabled bool) error {
	return c.do(ctx, "POST", tenantPath(tenant)+"/users/api-access", APIAccessInput{UserIDs: ids, Enabled: &enabled}, nil)
}

// ListGroups returns one page of a tenant's groups, by id.
func (c *API) ListGroups(ctx context.Context, tenant, after string, limit int) (*List[Group], error) {
	var out List[Group]
	return &out, c.do(ctx, "GET", tenantPath(tenant)+"/groups"+pageQuery(after, limit), nil, &out)
}

// CreateGroup creates a group.
func (c *API) CreateGroup(ctx context.Context, tenant string, in GroupInput) (*Group, error) {
	var out Group
	return &out, c.do(ctx, "POST", tenantPath(tenant)+"/groups", in, &out)
}

// GetGroup returns a group.
func (c *API) GetGroup(ctx context.Context, tenant, id string) (*Group, error) {
	var out Group
	return &out, c.do(ctx, "GET", groupPath(tenant, id), nil, &out)
}

// UpdateGroup changes a group.
func (c *API) UpdateGroup(ctx context.Context, tenant, id string, in GroupInput) (*Group, error) {
	var out Group
	return &out, c.do(ctx, "PATCH", groupPath(tenant, id), in, &out)
}

// DeleteGroup deletes a group; its members stay, outside it.
func (c *API) DeleteGroup(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "DELETE", groupPath(tenant, id), nil, nil)
}

// ListGroupMembers returns one page of a group's members, by id.
func (c *API) ListGroupMembers(ctx context.Context, tenant, id, after string, limit int) (*List[User], error) {
	var out List[User]
	return &out, c.do(ctx, "GET", groupPath(tenant, id)+"/members"+pageQuery(after, limit), nil, &out)
}

// AddGroupMember puts a user in a group (idempotent).
func (c *API) AddGroupMember(ctx context.Context, tenant, group, user string) error {
	return c.do(ctx, "PUT", groupPath(tenant, group)+"/members/"+url.PathEscape(user), nil, nil)
}

// RemoveGroupMember takes a user out of a group.
func (c *API) RemoveGroupMember(ctx context.Context, tenant, group, user string) error {
	return c.do(ctx, "DELETE", groupPath(tenant, group)+"/members/"+url.PathEscape(user), nil, nil)
}

// ListRoles returns the roles a tenant can assign: presets, then its own.
func (c *API) ListRoles(ctx context.Context, tenant string) ([]Role, error) {
	var out List[Role]
	return out.Items, c.do(ctx, "GET", tenantPath(tenant)+"/roles", nil, &out)
}

// CreateRole defines a tenant role.
func (c *API) CreateRole(ctx context.Context, tenant string, in RoleInput) (*Role, error) {
	var out Role
	return &out, c.do(ctx, "POST", tenantPath(tenant)+"/roles", in, &out)
}

// DeleteRole removes a tenant role no user holds.
func (c *API) DeleteRole(ctx context.Context, tenant, name string) error {
	return c.do(ctx, "DELETE", tenantPath(tenant)+"/roles/"+url.PathEscape(name), nil, nil)
}

// ListUserTokens lists a user's personal access tokens, newest first;
// revoked ones too when includeRevoked.
func (c *API) ListUserTokens(ctx context.Context, tenant, user string, includeRevoked bool) ([]PersonalToken, error) {
	path := userPath(tenant, user) + "/tokens"
	if includeRevoked {
		path += "?include_revoked=true"
	}
	var out List[PersonalToken]
	return out.Items, c.do(ctx, "GET", path, nil, &out)
}

// RevokeUserToken revokes a user's personal access token, irreversibly.
func (c *API) RevokeUserToken(ctx context.Context, tenant, user, id string) error {
	return c.do(ctx, "DELETE", userPath(tenant, user)+"/tokens/"+url.PathEscape(id), nil, nil)
}

// ExpiringTokens lists the tenant's live personal access tokens that
// expire within the next days days, soonest first.
func (c *API) ExpiringTokens(ctx context.Context, tenant string, days int) ([]PersonalToken, error) {
	var out List[PersonalToken]
	return out.Items, c.do(ctx, "GET", tenantPath(tenant)+"/tokens/expiring?days="+strconv.Itoa(days), nil, &out)
}

// ListConsents lists what a user approved for clients (remembered
// consent), most recently approved first.
func (c *API) ListConsents(ctx context.Context, tenant, user string) ([]ConsentGrant, error) {
	var out List[ConsentGrant]
	return out.Items, c.do(ctx, "GET", userPath(tenant, user)+"/consents", nil, &out)
}

// RevokeConsent withdraws a user's consent for a client and ends the
// client's sessions for that user; the next authorization asks again.
func (c *API) RevokeConsent(ctx context.Context, tenant, user, client string) error {
	return c.do(ctx, "DELETE", userPath(tenant, user)+"/consents/"+url.PathEscape(client), nil, nil)
}

// CreateAPIKey creates an API key; the result's Key is shown only here.
func (c *API) CreateAPIKey(ctx context.Context, tenant string, in APIKeyInput) (*APIKey, error) {
	var out APIKey
	return &out, c.do(ctx, "POST", tenantPath(tenant)+"/api-keys", in, &out)
}

// ListAPIKeys lists the tenant's API keys, newest first.
func (c *API) ListAPIKeys(ctx context.Context, tenant string) ([]APIKey, error) {
	var out List[APIKey]
	return out.Items, c.do(ctx, "GET", tenantPath(tenant)+"/api-keys", nil, &out)
}

// RevokeAPIKey revokes an API key, irreversibly, ending its sessions.
func (c *API) RevokeAPIKey(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "DELETE", tenantPath(tenant)+"/api-keys/"+url.PathEscape(id), nil, nil)
}

func pageQuery(after string, limit int) string {
	v := url.Values{}
	if after != "" {
		v.Set("after", after)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
