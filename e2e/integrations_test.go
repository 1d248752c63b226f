package e2e

import (
	"errors"
	"html"
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

// A user-based integration (a client with an owner) can be authorized by
// its owner only: another user of the tenant, with API access of their
// own, gets an error page and no code, whether through the consent page
// or by posting the consent form directly.
func TestUserBasedIntegration(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		f := newFlow(t, s)
		c, err := s.Admin.UpdateClient(ctx, "acme", f.client.ClientID, admin.ClientInput{OwnerUserID: &f.user.ID})
		if err != nil || c.OwnerUserID != f.user.ID {
			t.Fatalf("make Ada the owner: %+v, %v", c, err)
		}
		ten, err := s.Admin.GetTenant(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Users.Create(ctx, ten.ID, &users.Patch{Email: ptr("bob@acme.example"), Name: ptr("Bob"),
			Password: ptr(userPassword), Roles: &[]string{"program_member"}, APIEnabled: ptr(true)}, store.Event{Action: "user.create"}); err != nil {
			t.Fatal(err)
		}

		// Bob signs in and is refused instead of seeing the consent page.
		bob := browser(t)
		authURL := f.conf.AuthCodeURL("st-bob", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		resp, err := bob.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		login := body(t, resp)
		resp = submit(t, bob, s.URL, login, url.Values{"action": {"login"}, "email": {"bob@acme.example"}, "password": {userPassword}})
		wantNotOwnerPage(t, resp)

		// His session is live: the authorize URL refuses him straight away.
		resp, err = bob.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		wantNotOwnerPage(t, resp)

		// Posting the consent form anyway (with a good CSRF token) gets no code.
		form := url.Values{}
		for _, m := range hiddenRe.FindAllSubmatch(login, -1) {
			form.Set(string(m[1]), html.UnescapeString(string(m[2])))
		}
		form.Set("csrf", csrfCookie(t, bob, s.URL))
		form.Set("action", "consent")
		form.Set("decision", "allow")
		resp, err = bob.PostForm(s.URL+"/oauth2/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		wantNotOwnerPage(t, resp)

		// Ada, the owner, completes the flow.
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(t, browser(t), f.conf.AuthCodeURL("st-ada", oauth2.S256ChallengeOption(verifier)), true)
		tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if r := introspect(t, s, f.client, tok.AccessToken); r.JSON["sub"] != f.user.ID {
			t.Errorf("introspection: %s", r.Body)
		}
	})
}

func wantNotOwnerPage(t *testing.T, resp *http.Response) {
	t.Helper()
	page := body(t, resp)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" ||
		!strings.Contains(string(page), "This integration belongs to another user") {
		t.Fatalf("want the 403 owner page and no redirect, got %d (Location %q) %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
}

// csrfCookie is the browser's current CSRF cookie for the authorize form.
func csrfCookie(t *testing.T, b *http.Client, base string) string {
	t.Helper()
	u, _ := url.Parse(base + "/oauth2/authorize")
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "gatehouse_csrf" {
			return c.Value
		}
	}
	t.Fatal("no CSRF cookie")
	return ""
}

// The tenant policy "one active integration", through the admin API: a
// second API configuration is a 409 naming the first until the first is
// deleted.
func TestOneActiveIntegration(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s := apptest.Start(t, db(t), nil)
		f := newFlow(t, s) // the first API configuration of tenant acme
		on := true
		if tn, err := s.Admin.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{OneActiveIntegration: &on}}); err != nil || !tn.Settings.OneActiveIntegration {
			t.Fatalf("turn the policy on: %+v, %v", tn, err)
		}
		second := admin.ClientInput{Name: ptr("second"), Grants: &[]string{"authorization_code"}, RedirectURIs: &[]string{appCallback},
			Scopes: &[]string{"openid"}}
		_, err := s.Admin.CreateClient(ctx, "acme", second)
		var e *admin.Error
		want := "this tenant allows one active API integration; delete the existing one (" + f.client.ClientID + ") first"
		if !errors.As(err, &e) || e.Status != http.StatusConflict || e.Description != want {
			t.Fatalf("second integration: %v, want 409 %q", err, want)
		}
		if err := s.Admin.DeleteClient(ctx, "acme", f.client.ClientID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Admin.CreateClient(ctx, "acme", second); err != nil {
			t.Fatalf("after deleting the first: %v", err)
		}
	})
}
