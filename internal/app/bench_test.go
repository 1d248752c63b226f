package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
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

// BenchmarkGateway is one authorized GET through the whole public handler
// (middleware, cached JWT verdict, tenant and scope, GCRA, proxy) to a
// loopback upstream, next to a bare httputil.ReverseProxy with the same
// transport and buffer pool to the same upstream: the difference is what
// the gateway's checks add.
func BenchmarkGateway(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"itm_0001","tenant":"bench","status":"active"}`))
	}))
	defer up.Close()
	b.Run("bare-proxy", func(b *testing.B) {
		u, _ := url.Parse(up.URL)
		tr := gateway.NewTransport(30 * time.Second)
		defer tr.CloseIdleConnections()
		benchGET(b, &httputil.ReverseProxy{Transport: tr, BufferPool: new(gateway.BufferPool), Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		}}, "")
	})
	b.Run("gateway", func(b *testing.B) {
		routes := filepath.Join(b.TempDir(), "routes.yaml")
		if err := os.WriteFile(routes, []byte(`routes:
  - {name: bench, prefix: "/api/{tenant}", upstream: "`+up.URL+`", read_scope: read, rate_limits: {read: "1000000/1s"}}
`), 0o600); err != nil {
			b.Fatal(err)
		}
		s := apptest.Start(b, apptest.SQLite(b), func(c *config.Config) { c.Routes = routes })
		benchGET(b, s.PublicHandler(), "Bearer "+benchToken(b, s))
	})
}

// benchToken creates tenant bench with a client holding scope read and
// returns an access token for it.
func benchToken(b *testing.B, s *apptest.Server) string {
	name := "bench"
	if _, err := s.Admin.CreateTenant(b.Context(), admin.TenantInput{Name: &name}); err != nil {
		b.Fatal(err)
	}
	c, err := s.Admin.CreateClient(b.Context(), "bench", admin.ClientInput{Name: &name, Scopes: &[]string{"read"}})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(c.ClientID, c.ClientSecret)
	w := httptest.NewRecorder()
	s.PublicHandler().ServeHTTP(w, r)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || w.Code != http.StatusOK {
		b.Fatalf("token: %d %s", w.Code, w.Body)
	}
	return tok.AccessToken
}

// benchGET measures GET /api/bench through h.
func benchGET(b *testing.B, h http.Handler, authorization string) {
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/api/bench", nil)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
