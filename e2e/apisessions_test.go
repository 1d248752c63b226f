package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
	tokens "github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// post sends a JSON body to the public listener, without credentials.
func post(t *testing.T, s *apptest.Server, path string, v any) response {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest("POST", s.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return do(t, s, req)
}

type session struct{ access, refresh string }

func login(t *testing.T, s *apptest.Server, key string) session {
	t.Helper()
	r := post(t, s, "/auth/login", map[string]string{"api_key": key})
	if r.Status != 200 || r.JSON["token_type"] != "Bearer" || r.JSON["expires_in"] == nil {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	return session{r.JSON["access_token"].(string), r.JSON["refresh_token"].(string)}
}

func refreshSession(t *testing.T, s *apptest.Server, rt string) response {
	t.Helper()
	return post(t, s, "/auth/refresh", map[string]string{"refresh_token": rt})
}

func setTenant(t *testing.T, s *apptest.Server, in admin.TenantSettingsInput) {
	t.Helper()
	if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &in}); err != nil {
		t.Fatal(err)
	}
}

// The Intergiro session shape: an API key logs in, the access token works
// through the gateway, refresh is refused while the access token is good
// (with the seconds to wait) and rotates within the skew window, an old
// refresh token ends the session, sessions expire, logout ends them, and
// a revoked key is refused and its sessions ended.
func TestAPIKeySessions(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		up := newUpstream(t)
		s := apptest.Start(t, db(t), func(c *config.Config) { c.Routes = submissionsRoutes(t, up.URL) })
		u := patUser(t, s, "acme", "ada@acme.example")
		key, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "backend", UserID: u.ID})
		if err != nil || !strings.HasPrefix(key.Key, "gate_ak_") || key.Status != "active" {
			t.Fatalf("CreateAPIKey = %+v, %v", key, err)
		}
		get := func(tok string) response { return call(t, s, "GET", "/api/acme/submissions", tok, nil) }

		// Login, and a call through the gateway as the key's user.
		first := login(t, s, key.Key)
		if r := get(first.access); r.Status != 200 {
			t.Fatalf("gateway: %d %s", r.Status, r.Body)
		}
		if in, _ := up.last(t); in.Header.Get("X-Gatehouse-Subject") != u.ID || in.Header.Get("X-Gatehouse-Auth") != "api_key" {
			t.Errorf("upstream saw %v", in.Header)
		}
		if r := post(t, s, "/auth/login", map[string]string{"api_key": flipLast(key.Key)}); r.Status != 401 {
			t.Errorf("a bad key: %d %s", r.Status, r.Body)
		}

		// Premature refresh: refused with the seconds to wait, nothing rotates.
		r := refreshSession(t, s, first.refresh)
		wait, _ := r.JSON["retry_after"].(float64)
		if r.Status != 400 || r.JSON["error"] != "refresh_too_early" || wait < 3000 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("premature refresh: %d %s", r.Status, r.Body)
		}

		// Within the skew window (a day, so: now) it rotates.
		setTenant(t, s, admin.TenantSettingsInput{RefreshSkew: ptr(int64(86400))})
		r = refreshSession(t, s, first.refresh)
		if r.Status != 200 || r.JSON["refresh_token"] == first.refresh {
			t.Fatalf("refresh in the skew window: %d %s", r.Status, r.Body)
		}
		second := session{r.JSON["access_token"].(string), r.JSON["refresh_token"].(string)}
		if r := get(second.access); r.Status != 200 {
			t.Fatalf("the new access token: %d", r.Status)
		}

		// The old refresh token again: refused, and the session is ended.
		if r := refreshSession(t, s, first.refresh); r.Status != 400 || r.JSON["error"] != "invalid_grant" {
			t.Fatalf("reuse: %d %s", r.Status, r.Body)
		}
		if r := refreshSession(t, s, second.refresh); r.Status != 400 {
			t.Errorf("the current token after reuse: %d %s", r.Status, r.Body)
		}
		waitFor(t, func() bool { return get(second.access).Status == 401 })
		if !hasEvent(t, s, "security.api_session_refresh_reuse") {
			t.Error("no security event for the reuse")
		}

		// The session's absolute lifetime.
		third := login(t, s, key.Key)
		sqlDB := store.Unwrap(s.Store).(interface{ SQL() *sql.DB }).SQL()
		if _, err := sqlDB.Exec(`UPDATE refresh_families SET expires_at = $1 WHERE api_key_id = $2 AND revoked_at = 0`,
			time.Now().Add(-time.Second).UnixMicro(), key.ID); err != nil {
			t.Fatal(err)
		}
		if r := refreshSession(t, s, third.refresh); r.Status != 400 || r.JSON["error"] != "session_expired" {
			t.Errorf("after the session's lifetime: %d %s", r.Status, r.Body)
		}

		// Logout with the access token, or with the refresh token.
		fourth := login(t, s, key.Key)
		if r := call(t, s, "POST", "/auth/logout", fourth.access, nil); r.Status != 204 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if r := get(fourth.access); r.Status != 401 {
			t.Errorf("access token after logout: %d", r.Status)
		}
		if r := refreshSession(t, s, fourth.refresh); r.Status != 400 || r.JSON["error"] != "invalid_grant" {
			t.Errorf("refresh after logout: %d %s", r.Status, r.Body)
		}
		fifth := login(t, s, key.Key)
		if r := post(t, s, "/auth/logout", map[string]string{"refresh_token": fifth.refresh}); r.Status != 204 {
			t.Fatalf("logout by refresh token: %d %s", r.Status, r.Body)
		}
		waitFor(t, func() bool { return get(fifth.access).Status == 401 })

		// Revoking the key ends its sessions and refuses its logins.
		sixth := login(t, s, key.Key)
		if err := s.Admin.RevokeAPIKey(ctx, "acme", key.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return get(sixth.access).Status == 401 })
		if r := refreshSession(t, s, sixth.refresh); r.Status != 400 {
			t.Errorf("refresh with a revoked key: %d %s", r.Status, r.Body)
		}
		if r := post(t, s, "/auth/login", map[string]string{"api_key": key.Key}); r.Status != 401 || r.JSON["error"] != "invalid_client" {
			t.Errorf("login with a revoked key: %d %s", r.Status, r.Body)
		}
		ks, err := s.Admin.ListAPIKeys(ctx, "acme")
		if err != nil || len(ks) != 1 || ks[0].Status != "revoked" || ks[0].LastLoginAt == nil || ks[0].Key != "" {
			t.Errorf("ListAPIKeys = %+v, %v", ks, err)
		}

		// An expired access token: 401 with the RFC 6750 challenge.
		ts := *s.Tokens
		ts.Now = func() time.Time { return time.Now().Add(-61 * time.Minute) }
		ten, _ := s.Admin.GetTenant(ctx, "acme")
		m, err := ts.Mint(ctx, tokens.Request{ClientID: "ak:" + key.ID, TenantID: ten.ID, Tenant: "acme", Orgs: []string{"acme"},
			Subject: u.ID, Audience: []string{s.URL}, Auth: "api_key", TTL: time.Hour, Format: store.FormatJWT})
		if err != nil {
			t.Fatal(err)
		}
		if r := get(m.Token); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("expired access token: %d %v", r.Status, r.Header)
		}
	})
}

// Logins per API key are throttled (the tenant's threshold), with 429,
// Retry-After and a security event; refreshing does not count.
func TestAPIKeyLoginThrottle(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		u := patUser(t, s, "acme", "ada@acme.example")
		setTenant(t, s, admin.TenantSettingsInput{APIKeyLoginsPerHour: ptr(2), RefreshSkew: ptr(int64(86400))})
		key, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "backend", UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		sess := login(t, s, key.Key)
		login(t, s, key.Key)
		r := post(t, s, "/auth/login", map[string]string{"api_key": key.Key})
		if r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("third login: %d %s", r.Status, r.Body)
		}
		if !hasEvent(t, s, "security.api_key_login_throttled") {
			t.Error("no security event for the throttled login")
		}
		for range 3 {
			r := refreshSession(t, s, sess.refresh)
			if r.Status != 200 {
				t.Fatalf("refresh while logins are throttled: %d %s", r.Status, r.Body)
			}
			sess.refresh = r.JSON["refresh_token"].(string)
		}

		// Another key of the tenant has its own count.
		other, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "other", UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		login(t, s, other.Key)
	})
}

func hasEvent(t *testing.T, s *apptest.Server, action string) bool {
	t.Helper()
	var found bool
	waitFor(t, func() bool {
		l, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: action})
		found = err == nil && len(l.Items) > 0
		return found
	})
	return found
}
