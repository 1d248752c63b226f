// Package egress owns Gatehouse's outbound HTTP: fetching a tenant's
// identity-provider metadata and delivering webhooks. Tenants choose those
// URLs, so every request is treated as a possible server-side request
// forgery: https only (plain http in development mode), a time limit, a cap
// on the response size, few redirects and each to https, and no connection
// to a loopback, private, link-local or otherwise internal address, checked
// on the address actually dialled (so DNS rebinding gains nothing), unless
// the operator allows private destinations.
package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Options shape a client.
type Options struct {
	// AllowHTTP permits plain-http URLs (development mode).
	AllowHTTP bool
	// AllowPrivate permits loopback, private and link-local destinations
	// (an IdP or webhook receiver inside the operator's own network).
	AllowPrivate bool
	// Timeout bounds a whole request, body included (default 10s).
	Timeout time.Duration
	// MaxBody caps a response body (default 1 MiB); reading past it fails.
	MaxBody int64
}

// Errors a request can end with, besides the network's own.
var (
	ErrScheme      = errors.New("egress: only https URLs may be fetched")
	ErrDestination = errors.New("egress: the destination is a loopback, private or internal address")
	ErrTooLarge    = errors.New("egress: the response is too large")
	ErrRedirects   = errors.New("egress: too many redirects")
)

const maxRedirects = 3

// New returns a client that enforces o. Use one per purpose and keep it:
// it pools connections.
func New(o Options) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		d.Control = refusePrivate
	}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the address check
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    o.Timeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Timeout:   o.Timeout,
		Transport: &guard{next: tr, o: o},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return ErrRedirects
			}
			return checkScheme(req, o) // the dialer checks where it goes
		},
	}
}

// guard checks each request's scheme and caps its response body.
type guard struct {
	next http.RoundTripper
	o    Options
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkScheme(req, g.o); err != nil {
		return nil, err
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > g.o.MaxBody {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrTooLarge, resp.ContentLength, g.o.MaxBody)
	}
	resp.Body = &capped{rc: resp.Body, left: g.o.MaxBody}
	return resp, nil
}

func checkScheme(req *http.Request, o Options) error {
	switch {
	case req.URL.Scheme == "https":
		return nil
	case req.URL.Scheme == "http" && o.AllowHTTP:
		return nil
	}
	return fmt.Errorf("%w (got %s://)", ErrScheme, req.URL.Scheme)
}

// capped fails a read that goes past the cap, rather than silently
// truncating (which would turn into a confusing parse error).
type capped struct {
	rc   io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One more byte tells a body of exactly the cap from a longer one.
		var one [1]byte
		n, err := c.rc.Read(one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }

// refusePrivate is the dialer's Control hook: it sees the address about to
// be connected, after name resolution.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: cannot check address %q: %w", address, err)
	}
	if !Public(ap.Addr()) {
		return ErrDestination // never the address: a tenant must not map the operator's network
	}
	return nil
}

// internal lists ranges that are not the public internet beyond what
// netip's predicates cover: shared address space (RFC 6598), IETF protocol
// assignments, documentation and benchmarking ranges, reserved space, and
// IPv6 ranges that embed an IPv4 address (NAT64, 6to4, Teredo,
// IPv4-compatible) and could so reach a private one.
var internal = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("::/96"),     // IPv4-compatible (deprecated)
	netip.MustParsePrefix("100::/64"),  // discard
	netip.MustParsePrefix("2001::/32"), // Teredo: embeds an IPv4 address
	netip.MustParsePrefix("2002::/16"), // 6to4: likewise
	netip.MustParsePrefix("fec0::/10"), // site-local (deprecated)
}

// Public reports whether a is an address on the public internet: not
// loopback, private, link-local, multicast, unspecified or reserved.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
func Public(a netip.Addr) bool {
	// A zone scopes an address to an interface: local by definition, and
	// netip.Prefix.Contains is false for any zoned address. (Checked before
	// Unmap, which drops it.)
	if a.Zone() != "" {
		return false
	}
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	if a.Is4() && a.As4()[0] == 0 { // "this network"
		return false
	}
	for _, p := range internal {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Get fetches url with ctx and returns the body of a 200 response, read
// whole within the client's limits.
func Get(ctx context.Context, c *http.Client, url string, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("egress: GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// Describe is what a tenant may read of a failed fetch of a URL they
// chose: the policy or the kind of failure, never an address a name
// resolved to, nor the resolver's (they map the operator's network).
func Describe(err error) string {
	var dns *net.DNSError
	var ne net.Error
	var cert *tls.CertificateVerificationError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrDestination):
		return "the destination is not a public address"
	case errors.Is(err, ErrScheme):
		return "only https URLs may be fetched"
	case errors.Is(err, ErrTooLarge):
		return "the response is too large"
	case errors.Is(err, ErrRedirects):
		return "too many redirects"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "the host name does not resolve"
	case errors.As(err, &dns):
		return "the host name could not be resolved"
	case errors.As(err, &cert):
		return "the destination's TLS certificate is not valid"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the destination refused the connection"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "the destination did not answer in time"
	case errors.As(err, &ne):
		return "the destination could not be reached"
	}
	// Not a network failure: a status or a document of the tenant's own
	// service, which it may read.
	return err.Error()
}
