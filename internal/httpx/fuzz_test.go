package httpx

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The caller's IP keys the sign-in throttle and is written to the
// activity log, and X-Forwarded-For is whatever the caller wrote. Whatever
// the headers and peer: a peer that is not a trusted proxy is the answer
// (its headers count for nothing); behind a trusted proxy the answer is
// the peer or the rightmost hop that parses and is not trusted, with only
// trusted hops to its right; and a request is HTTPS only over TLS or on
// the word of a trusted proxy.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.0/8, 192.168.1.1", "10.1.2.3:5000", "6.6.6.6, 198.51.100.7, 192.168.1.1", "https", false)
	f.Add("10.0.0.0/8", "203.0.113.9:5000", "1.2.3.4", "https", false)
	f.Add("10.0.0.0/8", "[::ffff:10.1.2.3]:5000", "198.51.100.7\n10.9.9.9", "HTTPS", false)
	f.Add("::/0", "[fe80::1%eth0]:1", "fe80::2%25x, ::ffff:1.2.3.4", "", true)
	f.Add("0.0.0.0/0", "1.1.1.1", "not-an-ip, , 2.2.2.2", "http", false)
	f.Add("10.0.0.0/33", "@", "", "", false)
	f.Fuzz(func(t *testing.T, proxies, remote, xff, proto string, overTLS bool) {
		p, err := ParseProxies(proxies)
		if err != nil {
			return
		}
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		for _, v := range strings.Split(xff, "\n") {
			r.Header.Add("X-Forwarded-For", v)
		}
		r.Header.Set("X-Forwarded-Proto", proto)
		if overTLS {
			r.TLS = &tls.ConnectionState{}
		}
		host, _, err := net.SplitHostPort(remote)
		hostPort := err == nil // what net/http sets for TCP peers
		if !hostPort {
			host = remote
		}
		peer, err := netip.ParseAddr(host)
		trustedPeer := err == nil && p.trusted(peer)
		ip, want := p.ClientIP(r), host
		if trustedPeer {
			if hop := rightmostUntrusted(p, xff); hop != "" {
				want = hop
			}
		}
		if ip != want {
			t.Fatalf("peer %q (trusted %v), X-Forwarded-For %q: client IP %q, want %q", remote, trustedPeer, xff, ip, want)
		}
		if https := p.IsHTTPS(r); (hostPort || overTLS) && https != (overTLS || trustedPeer && strings.EqualFold(proto, "https")) {
			t.Fatalf("peer %q (trusted %v), X-Forwarded-Proto %q, TLS %v: IsHTTPS %v", remote, trustedPeer, proto, overTLS, https)
		}
	})
}

// rightmostUntrusted reads X-Forwarded-For from the right, past trusted
// proxies, to the first hop that is not one; "" when a hop does not parse
// first (nothing left of junk can be believed) or every hop is trusted.
func rightmostUntrusted(p Proxies, xff string) string {
	hops := strings.Split(strings.ReplaceAll(xff, "\n", ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		switch {
		case err != nil:
			return ""
		case !slices.ContainsFunc(p, func(n netip.Prefix) bool { return n.Contains(a.Unmap()) }):
			return a.String()
		}
	}
	return ""
}
