package httpx

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

func TestClientIPAndHTTPS(t *testing.T) {
	p, err := ParseProxies("10.0.0.0/8, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer, xff, proto string
		ip                     string
		https                  bool
	}{
		{"direct, headers ignored", "203.0.113.9:5000", "1.2.3.4", "https", "203.0.113.9", false},
		{"through a trusted proxy", "10.1.2.3:5000", "198.51.100.7", "https", "198.51.100.7", true},
		{"proxy chain: rightmost untrusted hop", "10.1.2.3:5000", "6.6.6.6, 198.51.100.7, 192.168.1.1", "http", "198.51.100.7", false},
		{"spoofed left entries do not win", "10.1.2.3:5000", "1.1.1.1, 198.51.100.7", "", "198.51.100.7", false},
		{"garbage XFF", "10.1.2.3:5000", "not-an-ip", "", "10.1.2.3", false},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:5000", "198.51.100.7", "HTTPS", "198.51.100.7", true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		if got := p.ClientIP(r); got != tc.ip {
			t.Errorf("%s: ClientIP = %s, want %s", tc.name, got, tc.ip)
		}
		if got := p.IsHTTPS(r); got != tc.https {
			t.Errorf("%s: IsHTTPS = %v, want %v", tc.name, got, tc.https)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.TLS = &tls.ConnectionState{}
	if !p.IsHTTPS(r) {
		t.Error("a TLS request is HTTPS")
	}
	if _, err := ParseProxies("10.0.0.0/33"); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func TestMethodLabelIsBounded(t *testing.T) {
	for m, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "FROBNICATE": "OTHER", "get": "OTHER"} {
		if got := methodLabel(m); got != want {
			t.Errorf("methodLabel(%q) = %q", m, got)
		}
	}
}
