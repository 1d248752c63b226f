package clients

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/protocol"
)

// RedirectPolicy is what a tenant allows in redirect URIs beyond the
// default of https to a public host name.
type RedirectPolicy struct {
	// AllowHTTP permits http:// (the Intigriti shape: http and https,
	// never localhost). Each such registration is logged.
	AllowHTTP bool
	// AllowLocal permits localhost, loopback and private-range addresses,
	// for development.
	AllowLocal bool
}

// CheckRedirectURI applies the registration rules of RFC 9700 §2.1 and
// §4.1: an absolute http(s) URL without fragment or userinfo, https unless
// the tenant allows http, and no localhost, loopback, link-local or
// private address unless the tenant allows local ones. Matching at the
// authorization endpoint is then exact string comparison.
func CheckRedirectURI(raw string, p RedirectPolicy) error {
	if len(raw) > 2048 || !protocol.Printable(raw) || strings.ContainsAny(raw, " \\") {
		return fmt.Errorf("redirect URI %q: printable, no spaces or backslashes, at most 2048 bytes", raw)
	}
	for _, r := range raw {
		if r > 0x7e {
			return fmt.Errorf("redirect URI %q: non-ASCII characters must be percent-encoded (and host names in punycode)", raw)
		}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return fmt.Errorf("redirect URI %q: must be an absolute URL", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("redirect URI %q: must start with https:// (or http:// where the tenant allows it)", raw)
	case u.Scheme == "http" && !p.AllowHTTP:
		return fmt.Errorf("redirect URI %q: must be https (the tenant does not allow http redirect URIs)", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("redirect URI %q: must not have a fragment (RFC 6749 §3.1.2)", raw)
	case u.User != nil:
		return fmt.Errorf("redirect URI %q: must not carry user information", raw)
	case u.Hostname() == "":
		return fmt.Errorf("redirect URI %q: must name a host", raw)
	}
	if !p.AllowLocal && isLocalHost(u.Hostname()) {
		return fmt.Errorf("redirect URI %q: localhost, loopback and private addresses are not allowed (the tenant may allow them for development)", raw)
	}
	return nil
}

// isLocalHost reports whether host is localhost, a name that resolves by
// convention to a local address, or a loopback, private, link-local or
// unspecified IP literal (in any spelling net/netip accepts).
func isLocalHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".local") || strings.HasSuffix(h, ".internal") {
		return true
	}
	// Wildcard-DNS names that embed an address (127.0.0.1.nip.io,
	// 10-0-0-1.sslip.io) point wherever the address does.
	for _, svc := range []string{".nip.io", ".sslip.io", ".xip.io", ".localtest.me"} {
		if strings.HasSuffix(h, svc) {
			return true
		}
	}
	if strings.Contains(h, "%") { // an IPv6 zone: an interface-scoped, local address
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		a, _ := netip.AddrFromSlice(ip)
		a = a.Unmap()
		return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsLinkLocalMulticast()
	}
	// Decimal, octal or hex spellings of an IPv4 address (2130706433,
	// 0x7f.1) are refused outright: no public name ends in a numeric label.
	labels := strings.Split(h, ".")
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x")
}
