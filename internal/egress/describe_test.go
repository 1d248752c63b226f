package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A tenant reads the policy or the kind of failure, never an address a
// name resolved to nor the resolver's.
func TestDescribe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	guarded := New(Options{AllowHTTP: true, Timeout: 2 * time.Second})
	_, loopbackErr := Get(context.Background(), guarded, srv.URL, "")
	_, dnsErr := Get(context.Background(), New(Options{AllowHTTP: true, AllowPrivate: true, Timeout: 2 * time.Second}), "http://no-such-host.invalid/x", "")
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 443}, Err: errors.New("connect: connection refused")}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"loopback", loopbackErr, "the destination is not a public address"},
		{"no such host", dnsErr, "the host name does not resolve"},
		{"a dial that failed", refused, "the destination could not be reached"},
		{"the tenant's own service said no", errors.New("egress: GET https://idp.example/x: 404 Not Found"), "egress: GET https://idp.example/x: 404 Not Found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Describe(c.err)
			if got != c.want {
				t.Errorf("Describe(%v) = %q, want %q", c.err, got, c.want)
			}
			for _, leak := range []string{"127.0.0.1", "10.1.2.3", ":53", "10.255."} {
				if strings.Contains(got, leak) {
					t.Errorf("Describe gives away %s: %q", leak, got)
				}
			}
		})
	}
}
