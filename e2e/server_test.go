package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// SIGTERM (context cancel) lets an in-flight request finish and flushes the
// batched usage counters before the process exits.
func TestGracefulShutdown(t *testing.T) {
	db := apptest.SQLite(t)
	s := apptest.Start(t, db, func(c *config.Config) { c.UsageFlush = time.Hour })
	c := setup(t, s, "acme", admin.ClientInput{})
	token(t, s, c, nil)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := s.HTTP.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	pw.Write([]byte("grant_type="))
	time.Sleep(200 * time.Millisecond) // the request is in the handler, reading its body
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("shutdown did not wait for the in-flight request")
	default:
	}
	pw.Write([]byte("client_credentials"))
	pw.Close()
	if r := <-done; r.err != nil || r.status != 200 {
		t.Fatalf("in-flight request: %d %v", r.status, r.err)
	}
	<-stopped
	// New connections are refused after shutdown.
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Fatal("server still accepting after shutdown")
	}
	st, err := sqlite.Open(ctx, strings.TrimPrefix(db, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.GetClient(ctx, c.ClientID)
	if err != nil || got.TokensIssued != 2 {
		t.Fatalf("usage after shutdown: %+v %v (want 2 issued)", got, err)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	for _, base := range []string{s.URL, s.AdminURL()} {
		for _, p := range []string{"/healthz", "/readyz"} {
			req, _ := http.NewRequest("GET", base+p, nil)
			if r := do(t, s, req); r.Status != 200 {
				t.Fatalf("%s%s: %d", base, p, r.Status)
			}
		}
	}
	s.Store.Close() // the store goes away: not ready, still alive
	req, _ := http.NewRequest("GET", s.URL+"/readyz", nil)
	if r := do(t, s, req); r.Status != 503 {
		t.Fatalf("readyz with the store closed: %d", r.Status)
	}
	req, _ = http.NewRequest("GET", s.URL+"/healthz", nil)
	if r := do(t, s, req); r.Status != 200 {
		t.Fatalf("healthz: %d", r.Status)
	}
}

// Outside dev mode plain HTTP is refused unless a trusted proxy says the
// request came over HTTPS; with a certificate the listener speaks TLS.
func TestHTTPSRule(t *testing.T) {
	t.Run("plain HTTP behind a trusted proxy", func(t *testing.T) {
		s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) {
			c.Dev = false
			c.Issuer = "https://auth.example.test"
			c.TrustedProxies = "127.0.0.1/32"
		})
		c := setup(t, s, "acme", admin.ClientInput{})
		addr := s.Config.Addr
		post := func(proto string) response {
			req, _ := http.NewRequest("POST", "http://"+addr+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(c.ClientID, c.ClientSecret)
			if proto != "" {
				req.Header.Set("X-Forwarded-Proto", proto)
			}
			return do(t, s, req)
		}
		if r := post(""); r.Status != 400 || !strings.Contains(r.JSON["error_description"].(string), "HTTPS") {
			t.Fatalf("plain HTTP: %d %s", r.Status, r.Body)
		}
		if r := post("https"); r.Status != 200 {
			t.Fatalf("via trusted proxy: %d %s", r.Status, r.Body)
		}
		req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
		if r := do(t, s, req); r.Status != 200 {
			t.Fatalf("health probes are exempt: %d", r.Status)
		}
	})
	t.Run("TLS listener", func(t *testing.T) {
		cert, key := selfSigned(t)
		s := apptest.Start(t, apptest.SQLite(t), func(c *config.Config) {
			c.Dev = false
			c.TLSCert, c.TLSKey = cert, key
			c.Issuer = "https://auth.example.test"
		})
		c := setup(t, s, "acme", admin.ClientInput{})
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := hc.PostForm("https://"+s.Config.Addr+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS == nil {
			t.Fatalf("over TLS: %d", resp.StatusCode)
		}
	})
}

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}
