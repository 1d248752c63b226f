package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Golden files pin the exact shapes integrators parse: discovery, token,
// introspection (active and inactive) and error responses.
func TestGoldenShapes(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	c := setup(t, s, "acme", admin.ClientInput{Scopes: &[]string{"read"}, Audiences: &[]string{"api"}})
	tok := postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, c.ClientSecret)
	get := func(path string) response {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		return do(t, s, req)
	}
	cases := map[string][]byte{
		"openid-configuration.json":       get("/.well-known/openid-configuration").Body,
		"oauth-authorization-server.json": get("/.well-known/oauth-authorization-server").Body,
		"token.json":                      tok.Body,
		"introspection-active.json":       introspect(t, s, c, tok.JSON["access_token"].(string)).Body,
		"introspection-inactive.json":     introspect(t, s, c, "nope").Body,
		"error-invalid-client.json":       postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, "x").Body,
	}
	// Values that change every run become placeholders.
	repl := strings.NewReplacer(s.URL, "<issuer>", c.ClientID, "<client_id>")
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if m, ok := v.(map[string]any); ok {
				for _, k := range []string{"access_token", "exp", "iat", "jti"} {
					if _, ok := m[k]; ok {
						m[k] = "<" + k + ">"
					}
				}
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			enc.Encode(v)
			got := []byte(repl.Replace(buf.String()))
			path := filepath.Join("testdata", "golden", name)
			if *update {
				os.WriteFile(path, got, 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./e2e -run TestGoldenShapes -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s changed:\n%s\nwant:\n%s", name, got, want)
			}
		})
	}
}
