package egress

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, // cloud metadata
		"0.0.0.0":         false, "0.1.2.3": false, "100.64.0.1": false, "198.18.0.1": false, "224.0.0.1": false,
		"255.255.255.255": false, "::1": false, "::": false, "fe80::1": false, "fd00::1": false, "ff02::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true, "64:ff9b::a00:1": false,
		"::a00:1": false, "2002:a00:1::1": false, "2001:0:a00:1::1": false, "fec0::1": false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestClientRefusesLoopbackUnlessAllowed(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()

	c := New(Options{})
	c.Transport.(*guard).next.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	if _, err := Get(context.Background(), c, srv.URL, ""); !errors.Is(err, ErrDestination) {
		t.Fatalf("loopback fetch: err = %v, want ErrDestination", err)
	}

	c = New(Options{AllowPrivate: true})
	c.Transport.(*guard).next.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	if b, err := Get(context.Background(), c, srv.URL, ""); err != nil || string(b) != "ok" {
		t.Fatalf("allowed loopback fetch = %q, %v", b, err)
	}
}

func TestClientRefusesPlainHTTPOutsideDev(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	if _, err := Get(context.Background(), New(Options{AllowPrivate: true}), srv.URL, ""); !errors.Is(err, ErrScheme) {
		t.Fatalf("http fetch: err = %v, want ErrScheme", err)
	}
	if _, err := Get(context.Background(), New(Options{AllowPrivate: true, AllowHTTP: true}), srv.URL, ""); err != nil {
		t.Fatalf("http fetch in dev mode: %v", err)
	}
}

func TestClientRedirects(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer plain.Close()
	var hops int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/downgrade":
			http.Redirect(w, r, plain.URL, http.StatusFound)
		case "/loop":
			hops++
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := New(Options{AllowPrivate: true})
	c.Transport.(*guard).next.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig

	if _, err := Get(context.Background(), c, srv.URL+"/downgrade", ""); !errors.Is(err, ErrScheme) {
		t.Errorf("redirect to http: err = %v, want ErrScheme", err)
	}
	if _, err := Get(context.Background(), c, srv.URL+"/loop", ""); !errors.Is(err, ErrRedirects) {
		t.Errorf("redirect loop: err = %v, want ErrRedirects", err)
	}
	if hops != maxRedirects {
		t.Errorf("followed %d redirects, want %d", hops, maxRedirects)
	}
}

func TestClientCapsBodyAndTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/declared":
			w.Write([]byte(strings.Repeat("x", 2048)))
		case "/chunked":
			for range 4 {
				w.Write([]byte(strings.Repeat("x", 600)))
				w.(http.Flusher).Flush()
			}
		case "/exact":
			w.Write([]byte(strings.Repeat("x", 1024)))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	c := New(Options{AllowPrivate: true, AllowHTTP: true, MaxBody: 1024, Timeout: 300 * time.Millisecond})
	for _, path := range []string{"/declared", "/chunked"} {
		if _, err := Get(context.Background(), c, srv.URL+path, ""); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", path, err)
		}
	}
	if b, err := Get(context.Background(), c, srv.URL+"/exact", ""); err != nil || len(b) != 1024 {
		t.Errorf("a body of exactly the cap: %d bytes, %v", len(b), err)
	}
	if _, err := Get(context.Background(), c, srv.URL+"/slow", ""); err == nil {
		t.Error("a response slower than the timeout was accepted")
	}
}
