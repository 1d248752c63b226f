package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/pats"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// submissionsRoutes puts the demo upstream behind a route the preset role
// program_member may read (submissions:read) but not write.
func submissionsRoutes(t *testing.T, up string) string {
	return writeRoutes(t, t.TempDir(), `
routes:
  - name: submissions
    prefix: /api/{tenant}/submissions
    upstream: `+up+`
    read_scope: submissions:read
    write_scope: submissions:write
`)
}

// patUser makes a program_member with API access in tenant acme (created
// if needed) and returns it.
func patUser(t *testing.T, s *apptest.Server, tenant, email string) *store.User {
	t.Helper()
	if _, err := s.Admin.GetTenant(ctx, tenant); err != nil {
		if _, err := s.Admin.CreateTenant(ctx, admin.TenantInput{Name: &tenant}); err != nil {
			t.Fatal(err)
		}
	}
	ten, err := s.Admin.GetTenant(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Users.Create(ctx, ten.ID, &users.Patch{Email: ptr(email), Name: ptr("PAT user"), Password: ptr(userPassword),
		Roles: &[]string{"program_member"}, APIEnabled: ptr(true)}, store.Event{Action: "user.create"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// mintPAT creates a token for u directly through the service.
func mintPAT(t *testing.T, s *apptest.Server, u *store.User, expiry string) *pats.Created {
	t.Helper()
	exp, err := pats.ParseExpiry(expiry)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.PATs.Create(ctx, u.TenantID, u.ID, "test", exp, nil, store.Event{Action: "pat.create"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sendJSON(t *testing.T, s *apptest.Server, method, path, bearer string, v any) response {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	return do(t, s, req)
}

// A user signs in through the authorization code flow, creates tokens for
// themselves with their session's token (which carries gatehouse:tokens),
// lists and revokes them; the 11th active token is refused with a 409 that
// names the limit.
func TestPATSelfService(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		f := newFlow(t, s)
		// A delegated token without gatehouse:tokens manages nothing.
		plain := f.exchange(t).AccessToken
		for _, r := range []response{sendJSON(t, s, "POST", "/auth/tokens", plain, admin.PersonalTokenInput{Name: "x", Expiry: "7d"}),
			call(t, s, "GET", "/auth/tokens", plain, nil)} {
			if r.Status != 403 || r.JSON["error"] != "insufficient_scope" {
				t.Fatalf("a delegated token without gatehouse:tokens: %d %s", r.Status, r.Body)
			}
		}
		f.conf.Scopes = append(f.conf.Scopes, "gatehouse:tokens")
		session := f.exchange(t).AccessToken

		r := sendJSON(t, s, "POST", "/auth/tokens", session, admin.PersonalTokenInput{Name: "ci", Expiry: "30d"})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var made admin.PersonalToken
		json.Unmarshal(r.Body, &made)
		if !strings.HasPrefix(made.Token, "gate_pat_") || !strings.HasPrefix(made.Token, made.Prefix) || made.Status != "active" ||
			made.ExpiresAt == nil || time.Until(*made.ExpiresAt) < 29*24*time.Hour || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("created %+v", made)
		}
		// The PAT authenticates the self-service API too; the list never
		// shows the token again.
		for _, bearer := range []string{session, made.Token} {
			r := call(t, s, "GET", "/auth/tokens", bearer, nil)
			if r.Status != 200 || strings.Contains(string(r.Body), made.Token) || !strings.Contains(string(r.Body), made.Prefix) {
				t.Fatalf("list: %d %s", r.Status, r.Body)
			}
		}
		for _, c := range []struct{ expiry, want string }{{"never", "null"}, {"2099-01-31", "2099-02-01T00:00:00Z"}, {"7d", ""}} {
			r := sendJSON(t, s, "POST", "/auth/tokens", made.Token, admin.PersonalTokenInput{Name: "e " + c.expiry, Expiry: c.expiry})
			if r.Status != 201 || (c.want != "" && fmt.Sprint(r.JSON["expires_at"]) != strings.Replace(c.want, "null", "<nil>", 1)) {
				t.Errorf("expiry %s: %d %s", c.expiry, r.Status, r.Body)
			}
		}
		if r := sendJSON(t, s, "POST", "/auth/tokens", session, admin.PersonalTokenInput{Name: "x", Expiry: "45d"}); r.Status != 400 {
			t.Errorf("an expiry that is no preset: %d %s", r.Status, r.Body)
		}
		// Client credentials act for no user.
		cc := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"submissions:read"}})
		if r := call(t, s, "GET", "/auth/tokens", token(t, s, cc, nil), nil); r.Status != 403 {
			t.Errorf("a client token: %d %s", r.Status, r.Body)
		}
		if r := call(t, s, "GET", "/auth/tokens", "", nil); r.Status != 401 {
			t.Errorf("no token: %d", r.Status)
		}

		// 4 live; 6 more reach the limit of 10; the 11th is a 409 naming it.
		for i := 0; i < 6; i++ {
			if r := sendJSON(t, s, "POST", "/auth/tokens", session, admin.PersonalTokenInput{Name: "n", Expiry: "7d"}); r.Status != 201 {
				t.Fatalf("token %d: %d %s", i+5, r.Status, r.Body)
			}
		}
		r = sendJSON(t, s, "POST", "/auth/tokens", session, admin.PersonalTokenInput{Name: "eleventh", Expiry: "7d"})
		if r.Status != 409 || !strings.Contains(fmt.Sprint(r.JSON["error_description"]), "at most 10 active") {
			t.Fatalf("11th token: %d %s", r.Status, r.Body)
		}

		// Revoke: gone from the list, refused at once, and a slot is free.
		if r := call(t, s, "DELETE", "/auth/tokens/"+made.ID, session, nil); r.Status != 204 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if r := call(t, s, "GET", "/auth/tokens", made.Token, nil); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "revoked") {
			t.Errorf("the revoked token: %d %v", r.Status, r.Header)
		}
		r = call(t, s, "GET", "/auth/tokens", session, nil)
		if strings.Contains(string(r.Body), made.ID) || strings.Count(string(r.Body), `"status":"active"`) != 9 {
			t.Errorf("list after revoking: %s", r.Body)
		}
		if r := sendJSON(t, s, "POST", "/auth/tokens", session, admin.PersonalTokenInput{Name: "again", Expiry: "7d"}); r.Status != 201 {
			t.Errorf("after a revocation: %d %s", r.Status, r.Body)
		}
		if r := call(t, s, "DELETE", "/auth/tokens/pat_unknown", session, nil); r.Status != 404 {
			t.Errorf("revoke unknown: %d", r.Status)
		}

		// Admins see and revoke any user's tokens, revoked ones on request.
		all, err := s.Admin.ListUserTokens(ctx, "acme", f.user.ID, true)
		if err != nil || len(all) != 11 || !hasStatus(all, "revoked") {
			t.Fatalf("admin list = %d tokens, %v", len(all), err)
		}
		if err := s.Admin.RevokeUserToken(ctx, "acme", f.user.ID, all[0].ID); err != nil {
			t.Fatal(err)
		}
		// Tenant settings through the admin API: never forbidden.
		if _, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{PATForbidNever: ptr(true)}}); err != nil {
			t.Fatal(err)
		}
		if r := sendJSON(t, s, "POST", "/auth/tokens", session, admin.PersonalTokenInput{Name: "forever", Expiry: "never"}); r.Status != 400 ||
			!strings.Contains(string(r.Body), "never expire") {
			t.Errorf("never, forbidden: %d %s", r.Status, r.Body)
		}
		expiring, err := s.Admin.ExpiringTokens(ctx, "acme", 8)
		if err != nil || len(expiring) != 7 { // six 7d tokens and "e 7d"; "again" was revoked by the admin
			t.Errorf("expiring within 8 days: %d, %v", len(expiring), err)
		}
	})
}

// flipLast changes a token's last character (to a different one, always).
func flipLast(tok string) string {
	last := "x"
	if strings.HasSuffix(tok, "x") {
		last = "y"
	}
	return tok[:len(tok)-1] + last
}

func hasStatus(ts []admin.PersonalToken, status string) bool {
	for _, t := range ts {
		if t.Status == status {
			return true
		}
	}
	return false
}

// A PAT acts at the gateway as its user: the user's role scopes, the PAT's
// tenant only, refused when revoked, expired, without API access, or after
// the user is deleted; its last use is recorded.
func TestPATThroughTheGateway(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		up := newUpstream(t)
		s := apptest.Start(t, db(t), func(c *config.Config) { c.Routes = submissionsRoutes(t, up.URL) })
		u := patUser(t, s, "acme", "ada@acme.example")
		patUser(t, s, "beta", "bob@beta.example")
		tok := mintPAT(t, s, u, "30d")
		get := func(tenant string) response { return call(t, s, "GET", "/api/"+tenant+"/submissions", tok.Token, nil) }

		if r := get("acme"); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if in, _ := up.last(t); in.Header.Get("X-Gatehouse-Subject") != u.ID || in.Header.Get("X-Gatehouse-Auth") != "pat" ||
			in.Header.Get("Authorization") != "" {
			t.Errorf("upstream saw %v", in.Header)
		}
		if r := call(t, s, "POST", "/api/acme/submissions", tok.Token, strings.NewReader("{}")); r.Status != 403 {
			t.Errorf("write with a read-only role: %d", r.Status)
		}
		if r := get("beta"); r.Status != 403 {
			t.Errorf("another tenant: %d %s", r.Status, r.Body)
		}
		if r := call(t, s, "GET", "/api/acme/submissions", flipLast(tok.Token), nil); r.Status != 401 {
			t.Errorf("a bad checksum: %d", r.Status)
		}
		waitFor(t, func() bool {
			ts, _ := s.Admin.ListUserTokens(ctx, "acme", u.ID, false)
			return len(ts) == 1 && ts[0].LastUsedAt != nil && ts[0].LastUsedIP == "127.0.0.1"
		})

		// API access off: refused; on again: works.
		if err := s.Users.SetAPIEnabled(ctx, u.TenantID, []string{u.ID}, false, store.Event{Action: "user.api_access"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			r := get("acme")
			return r.Status == 403 && strings.Contains(fmt.Sprint(r.JSON["error_description"]), "no API access")
		})
		if err := s.Users.SetAPIEnabled(ctx, u.TenantID, []string{u.ID}, true, store.Event{Action: "user.api_access"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return get("acme").Status == 200 })

		// Expired: the store's clock says so (move expires_at into the past).
		old := mintPAT(t, s, u, "7d")
		if r := call(t, s, "GET", "/api/acme/submissions", old.Token, nil); r.Status != 200 {
			t.Fatalf("fresh 7d token: %d", r.Status)
		}
		sqlDB := store.Unwrap(s.Store).(interface{ SQL() *sql.DB }).SQL()
		if _, err := sqlDB.Exec(`UPDATE pats SET expires_at = $1 WHERE id = $2`, time.Now().Add(-time.Second).UnixMicro(), old.PAT.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			r := call(t, s, "GET", "/api/acme/submissions", old.Token, nil)
			return r.Status == 401 && r.JSON["error"] == "invalid_token" && strings.Contains(fmt.Sprint(r.JSON["error_description"]), "expired") &&
				strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
		})

		// Revoked through the admin API: refused at once on this replica.
		if err := s.Admin.RevokeUserToken(ctx, "acme", u.ID, tok.PAT.ID); err != nil {
			t.Fatal(err)
		}
		if r := get("acme"); r.Status != 401 || !strings.Contains(fmt.Sprint(r.JSON["error_description"]), "revoked") {
			t.Errorf("right after revocation: %d %s", r.Status, r.Body)
		}

		// A deleted user's tokens die with them.
		live := mintPAT(t, s, u, "never")
		if err := s.Users.Delete(ctx, u.TenantID, u.ID, store.Event{Action: "user.delete"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return call(t, s, "GET", "/api/acme/submissions", live.Token, nil).Status == 401 })
	})
}

// A PAT revoked on one replica, an API key revoked through one, and a
// tenant's switch to its IdP made through one are honoured by another
// within a second.
func TestPATRevocationReachesEveryReplica(t *testing.T) {
	if pgtest.ServerURL() == "" {
		t.Skip("two replicas need PostgreSQL (GATEHOUSE_TEST_POSTGRES)")
	}
	db := pgtest.URL(t)
	up := newUpstream(t)
	routes := submissionsRoutes(t, up.URL)
	a := apptest.Start(t, db, func(c *config.Config) { c.Routes = routes })
	b := apptest.Start(t, db, func(c *config.Config) {
		c.MasterKey, c.Issuer, c.Routes = a.Config.MasterKey, a.URL, routes
	})
	u := patUser(t, a, "acme", "ada@acme.example")
	tok := mintPAT(t, a, u, "30d")
	if r := call(t, b, "GET", "/api/acme/submissions", tok.Token, nil); r.Status != 200 {
		t.Fatalf("A's token on B: %d %s", r.Status, r.Body)
	}
	if r := call(t, a, "DELETE", "/auth/tokens/"+tok.PAT.ID, tok.Token, nil); r.Status != 204 {
		t.Fatalf("revoke on A: %d %s", r.Status, r.Body)
	}
	start := time.Now()
	if r := call(t, a, "GET", "/api/acme/submissions", tok.Token, nil); r.Status != 401 {
		t.Errorf("on the replica that revoked it: %d", r.Status)
	}
	for call(t, b, "GET", "/api/acme/submissions", tok.Token, nil).Status != 401 {
		if time.Since(start) > time.Second {
			t.Fatal("B still honours the revoked token after 1s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("refused on B %v after the revocation on A", time.Since(start).Round(time.Millisecond))

	// An API key's session made on B; the key revoked through A's admin API.
	key, err := a.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "backend", UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	sess := login(t, b, key.Key)
	if r := call(t, b, "GET", "/api/acme/submissions", sess.access, nil); r.Status != 200 {
		t.Fatalf("API-key session on B: %d %s", r.Status, r.Body)
	}
	if err := a.Admin.RevokeAPIKey(ctx, "acme", key.ID); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "the revoked key's session on B", func() bool {
		return call(t, b, "GET", "/api/acme/submissions", sess.access, nil).Status == 401
	})

	// The tenant switches to its identity provider through A: B refuses
	// a live PAT within a second, and honours it again after the switch back.
	live := mintPAT(t, a, u, "30d")
	set := func(mode string) {
		in := admin.TenantSettingsInput{UserAuthMode: &mode,
			IdP: &admin.IdPSettingsInput{Issuer: ptr("https://idp.acme.example"), Audiences: &[]string{"api"}, ClaimNamespace: ptr("https://acme.example")}}
		if _, err := a.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &in}); err != nil {
			t.Fatal(err)
		}
	}
	set("oauth")
	within(t, time.Second, "a PAT on B after the switch to oauth", func() bool {
		return call(t, b, "GET", "/api/acme/submissions", live.Token, nil).Status == 401
	})
	set("pat")
	within(t, time.Second, "a PAT on B after the switch back", func() bool {
		return call(t, b, "GET", "/api/acme/submissions", live.Token, nil).Status == 200
	})
}

// within polls cond until it holds, failing the test if that takes longer
// than limit: the propagation bound between replicas that the docs promise
// (twice the 500 ms refresh interval).
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
