// Package e2e drives the real Gatehouse server over HTTP on loopback with
// other people's clients (golang.org/x/oauth2, coreos/go-oidc), on both
// store backends.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

// setup creates a tenant and a client in it.
func setup(t *testing.T, s *apptest.Server, tenant string, in admin.ClientInput) *admin.Client {
	t.Helper()
	if _, err := s.Admin.GetTenant(ctx, tenant); err != nil {
		if _, err := s.Admin.CreateTenant(ctx, admin.TenantInput{Name: &tenant}); err != nil {
			t.Fatalf("create tenant: %v", err)
		}
	}
	if in.Name == nil {
		in.Name = ptr("test client")
	}
	c, err := s.Admin.CreateClient(ctx, tenant, in)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// do sends a request and decodes a JSON body when there is one.
func do(t *testing.T, s *apptest.Server, req *http.Request) response {
	t.Helper()
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	json.Unmarshal(body, &r.JSON)
	return r
}

// postForm posts a form body, with Basic credentials when user is set.
func postForm(t *testing.T, s *apptest.Server, path string, form url.Values, user, pass string) response {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return do(t, s, req)
}

// postRaw posts a body with the given content type.
func postRaw(t *testing.T, s *apptest.Server, path, contentType, body string) response {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, s, req)
}

// token gets an access token by client_secret_post.
func token(t *testing.T, s *apptest.Server, c *admin.Client, extra url.Values) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}
	for k, v := range extra {
		form[k] = v
	}
	r := postForm(t, s, "/oauth2/token", form, "", "")
	if r.Status != 200 {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	return r.JSON["access_token"].(string)
}

func introspect(t *testing.T, s *apptest.Server, caller *admin.Client, tok string) response {
	t.Helper()
	return postForm(t, s, "/oauth2/introspect", url.Values{"token": {tok}}, caller.ClientID, caller.ClientSecret)
}
