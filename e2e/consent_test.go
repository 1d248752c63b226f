package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// Remembered consent: a user who approved as much for a client before is
// sent straight back with a code; a wider request, prompt=consent and
// gatehouse:tokens ask again, and withdrawing the consent ends the
// client's sessions.

// request is an authorization request of f for scope (a space-separated
// list), with extra parameters, and the PKCE verifier of its challenge.
func (f *flow) request(scope string, extra ...oauth2.AuthCodeOption) (authURL, verifier string) {
	conf := *f.conf
	conf.Scopes = strings.Fields(scope)
	verifier = oauth2.GenerateVerifier()
	return conf.AuthCodeURL("st-c", append(extra, oauth2.S256ChallengeOption(verifier))...), verifier
}

// open starts an authorization in b, signing in on the login page when
// login, and returns what came after: a page or a redirect.
func (f *flow) open(t *testing.T, b *http.Client, authURL string, login bool) (*http.Response, []byte) {
	t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	if login {
		if !strings.Contains(string(page), `name="password"`) {
			t.Fatalf("expected the login page, got %d %s", resp.StatusCode, page)
		}
		resp = submit(t, b, f.s.URL, page, url.Values{"action": {"login"}, "email": {"ada@acme.example"}, "password": {userPassword}})
		page = body(t, resp)
	}
	return resp, page
}

// redirected returns the query of a 303 back to the client and fails on
// anything else (a consent page above all).
func redirected(t *testing.T, resp *http.Response, page []byte) url.Values {
	t.Helper()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), appCallback+"?") {
		t.Fatalf("want a redirect back to the client, got %d Location %q %.300s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	return loc.Query()
}

// authorizeRemembered is authorize for a request the user approved before:
// no consent page, the browser goes straight back with a code.
func (f *flow) authorizeRemembered(t *testing.T, b *http.Client, authURL string, login bool) url.Values {
	t.Helper()
	resp, page := f.open(t, b, authURL, login)
	q := redirected(t, resp, page)
	if u, _ := url.Parse(authURL); q.Get("code") == "" || q.Get("state") != u.Query().Get("state") {
		t.Fatalf("redirect without a code or the state: %v", q)
	}
	return q
}

// redeem exchanges an authorization's code for tokens.
func (f *flow) redeem(t *testing.T, q url.Values, verifier string) *oauth2.Token {
	t.Helper()
	tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRememberedConsent(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		f := newFlow(t, s)
		b := browser(t)

		// The first authorization asks.
		u, v := f.request("openid submissions:read")
		f.redeem(t, f.authorize(t, b, u, true), v)
		// The same request in the same browser does not: a code at once,
		// which redeems like any other.
		u, v = f.request("openid submissions:read")
		tok := f.redeem(t, f.authorizeRemembered(t, b, u, false), v)
		if tok.Extra("scope") != "openid submissions:read" {
			t.Errorf("remembered authorization granted %v", tok.Extra("scope"))
		}
		events, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "oauth.authorize"})
		if err != nil || len(events.Items) != 2 || events.Items[0].Detail["consent"] != "remembered" || events.Items[1].Detail["consent"] != nil {
			t.Errorf("oauth.authorize events: %+v %v", events, err)
		}
		// Nor does a narrower one, nor one after signing in afresh.
		u, _ = f.request("submissions:read")
		f.authorizeRemembered(t, b, u, false)
		u, _ = f.request("openid submissions:read")
		f.authorizeRemembered(t, browser(t), u, true)
		// A grant changes nothing before the request is known good: a
		// redirect URI that is not the registered one is still the error
		// page, never a redirect (RFC 9700 §4.1.3).
		bad := *f.conf
		bad.RedirectURL, bad.Scopes = "https://evil.example/cb", []string{"openid", "submissions:read"}
		resp, page := f.open(t, b, bad.AuthCodeURL("st-c", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), false)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(page), "Cannot continue") {
			t.Errorf("remembered, with another redirect URI: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}

		// A wider request asks again; approving it widens the grant.
		u, _ = f.request("openid email submissions:read")
		f.authorize(t, b, u, false)
		u, _ = f.request("email submissions:read")
		f.authorizeRemembered(t, b, u, false)
		// What the user may grant counts, not what the client asks for:
		// submissions:write is no wider while the user's roles do not
		// grant it, and wider once they do.
		u, _ = f.request("openid email submissions:read submissions:write")
		f.authorizeRemembered(t, b, u, false)
		if _, err := s.Admin.UpdateUser(ctx, "acme", f.user.ID, admin.UserInput{Roles: &[]string{"program_editor"}}); err != nil {
			t.Fatal(err)
		}
		f.authorize(t, b, u, false)

		// prompt=consent always asks (OIDC Core §3.1.2.1).
		u, _ = f.request("openid", oauth2.SetAuthURLParam("prompt", "consent"))
		f.authorize(t, b, u, false)

		grants, err := s.Admin.ListConsents(ctx, "acme", f.user.ID)
		if err != nil || len(grants) != 1 || grants[0].ClientID != f.client.ClientID || grants[0].ClientName != "test client" ||
			strings.Join(grants[0].Scopes, " ") != "email openid submissions:read submissions:write" || !grants[0].UpdatedAt.After(grants[0].CreatedAt) {
			t.Errorf("the user's consents: %+v %v", grants, err)
		}
	})
}

// prompt=none never shows a page (OIDC Core §3.1.2.1): without a session
// it is login_required, without a covering consent consent_required.
func TestRememberedConsentPromptNone(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	b := browser(t)
	none := oauth2.SetAuthURLParam("prompt", "none")
	wantError := func(name, authURL, code string) {
		t.Helper()
		resp, page := f.open(t, b, authURL, false)
		if q := redirected(t, resp, page); q.Get("error") != code || q.Get("code") != "" || q.Get("state") != "st-c" {
			t.Errorf("%s: %v, want error=%s", name, q, code)
		}
	}
	u, _ := f.request("openid submissions:read", none)
	wantError("no session", u, "login_required")
	// Signed in, but the consent page left unanswered.
	signIn, _ := f.request("openid submissions:read")
	if resp, page := f.open(t, b, signIn, true); resp.StatusCode != 200 || !strings.Contains(string(page), `value="allow"`) {
		t.Fatalf("expected the consent page: %d %s", resp.StatusCode, page)
	}
	wantError("no consent", u, "consent_required")
	f.authorize(t, b, signIn, false)
	u, v := f.request("openid submissions:read", none)
	f.redeem(t, f.authorizeRemembered(t, b, u, false), v)

	u, _ = f.request("openid email submissions:read", none)
	wantError("a wider request", u, "consent_required")
	u, _ = f.request("openid gatehouse:tokens", none)
	wantError("gatehouse:tokens", u, "consent_required")
	u, _ = f.request("openid", oauth2.SetAuthURLParam("prompt", "none consent"))
	wantError("none with another value", u, "invalid_request")
}

// gatehouse:tokens is never granted silently: every request for it asks,
// and the grant does not list it.
func TestRememberedConsentNeverForTokens(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	b := browser(t)
	u, _ := f.request("openid submissions:read gatehouse:tokens")
	f.authorize(t, b, u, true)
	f.authorize(t, b, u, false)
	u, _ = f.request("gatehouse:tokens")
	f.authorize(t, b, u, false)
	// What came with it is remembered.
	u, _ = f.request("openid submissions:read")
	f.authorizeRemembered(t, b, u, false)
	grants, err := s.Admin.ListConsents(ctx, "acme", f.user.ID)
	if err != nil || len(grants) != 1 || strings.Join(grants[0].Scopes, " ") != "openid submissions:read" {
		t.Errorf("the user's consents: %+v %v", grants, err)
	}
}

// A remembered consent does not make a user-based integration anyone's
// but its owner's: the owner check comes first.
func TestRememberedConsentOwner(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	b := browser(t)
	u, _ := f.request("openid submissions:read")
	f.authorize(t, b, u, true)
	bob, err := s.Users.Create(ctx, f.user.TenantID, &users.Patch{Email: ptr("bob@acme.example"), Name: ptr("Bob"),
		Password: ptr(userPassword), Roles: &[]string{"program_member"}, APIEnabled: ptr(true)}, store.Event{Action: "user.create"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.UpdateClient(ctx, "acme", f.client.ClientID, admin.ClientInput{OwnerUserID: &bob.ID}); err != nil {
		t.Fatal(err)
	}
	for _, prompt := range []string{"", "none"} {
		u, _ := f.request("openid submissions:read", oauth2.SetAuthURLParam("prompt", prompt))
		resp, page := f.open(t, b, u, false)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" || !strings.Contains(string(page), "belongs to another user") {
			t.Errorf("prompt=%q: another user's integration: %d Location %q", prompt, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// Withdrawing a consent, by an operator or by the user, ends the client's
// sessions for the user, and the next authorization asks again.
func TestRevokeConsent(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	b := browser(t)
	authorized := func(login bool) *oauth2.Token {
		t.Helper()
		u, v := f.request("openid submissions:read")
		return f.redeem(t, f.authorize(t, b, u, login), v)
	}
	ended := func(how string, tok *oauth2.Token) {
		t.Helper()
		if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 400 || r.JSON["error"] != "invalid_grant" {
			t.Errorf("%s: refresh %d %s, want 400 invalid_grant", how, r.Status, r.Body)
		}
		if r := introspect(t, s, f.client, tok.AccessToken); r.JSON["active"] != false {
			t.Errorf("%s: the access token is still active: %s", how, r.Body)
		}
	}
	var ae *admin.Error

	// By the operator, through the admin API.
	tok := authorized(true)
	if err := s.Admin.RevokeConsent(ctx, "acme", f.user.ID, f.client.ClientID); err != nil {
		t.Fatal(err)
	}
	ended("revoked by the admin API", tok)
	if err := s.Admin.RevokeConsent(ctx, "acme", f.user.ID, f.client.ClientID); !errors.As(err, &ae) || ae.Status != 404 {
		t.Errorf("revoking again: %v, want 404", err)
	}
	if grants, err := s.Admin.ListConsents(ctx, "acme", f.user.ID); err != nil || len(grants) != 0 {
		t.Errorf("consents after revoking: %+v %v", grants, err)
	}
	events, err := s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "oauth.consent_revoke"})
	if err != nil || len(events.Items) != 1 || !strings.HasPrefix(events.Items[0].Actor, "admin:") ||
		events.Items[0].Target != f.client.ClientID || events.Items[0].Detail["user"] != f.user.ID {
		t.Errorf("revoke events: %+v %v", events, err)
	}

	// By the user, with a personal access token; the next authorization
	// asks again.
	tok = authorized(false)
	pat := mintPAT(t, s, f.user, "7d").Token
	r := call(t, s, "GET", "/auth/consents", pat, nil)
	if items, _ := r.JSON["items"].([]any); r.Status != 200 || len(items) != 1 || !strings.Contains(string(r.Body), `"client_id":"`+f.client.ClientID+`"`) ||
		r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /auth/consents: %d %s", r.Status, r.Body)
	}
	// A delegated token without gatehouse:tokens sees nothing.
	if r := call(t, s, "GET", "/auth/consents", tok.AccessToken, nil); r.Status != 403 || r.JSON["error"] != "insufficient_scope" {
		t.Errorf("a delegated token without gatehouse:tokens: %d %s", r.Status, r.Body)
	}
	if r := call(t, s, "DELETE", "/auth/consents/"+f.client.ClientID, pat, nil); r.Status != 204 {
		t.Fatalf("DELETE /auth/consents: %d %s", r.Status, r.Body)
	}
	ended("revoked by the user", tok)
	if r := call(t, s, "DELETE", "/auth/consents/"+f.client.ClientID, pat, nil); r.Status != 404 || r.JSON["error"] != "not_found" {
		t.Errorf("revoking again: %d %s", r.Status, r.Body)
	}
	if r := call(t, s, "GET", "/auth/consents", pat, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"items":[]`) {
		t.Errorf("consents after revoking: %d %s", r.Status, r.Body)
	}
	tok = authorized(false)
	if r := refresh(t, s, f.client, tok.RefreshToken); r.Status != 200 {
		t.Errorf("a new authorization after revoking: %d %s", r.Status, r.Body)
	}
	events, _ = s.Admin.Audit(ctx, "acme", admin.AuditQuery{Action: "oauth.consent_revoke", Actor: "user:" + f.user.ID})
	if len(events.Items) != 1 {
		t.Errorf("the user's revoke events: %+v", events)
	}
}
