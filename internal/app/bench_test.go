package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// BenchmarkTokenIssuance is client_credentials through the whole public
// handler (middleware, body parsing, client auth, signing, response), with
// no network in the way.
func BenchmarkTokenIssuance(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			s := apptest.Start(b, apptest.SQLite(b), func(c *config.Config) { c.SigningAlg = alg })
			name := "bench"
			if _, err := s.Admin.CreateTenant(b.Context(), admin.TenantInput{Name: &name}); err != nil {
				b.Fatal(err)
			}
			c, err := s.Admin.CreateClient(b.Context(), "bench", admin.ClientInput{Name: &name, Scopes: &[]string{"read"}})
			if err != nil {
				b.Fatal(err)
			}
			h := s.PublicHandler()
			body := url.Values{"grant_type": {"client_credentials"}}.Encode()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth(c.ClientID, c.ClientSecret)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
