package clients

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// A redirect URI is what an attacker registers to steal codes: whatever
// the string, one accepted under the default policy is an absolute https
// URL with a host, no fragment and no user information, whose host is no
// loopback or private address literal; and a looser policy never refuses
// what the default accepts.
func FuzzCheckRedirectURI(f *testing.F) {
	for _, seed := range []string{
		"https://app.example/cb", "https://app.example/cb?x=1", "http://app.example/cb", "https://localhost/cb",
		"https://127.0.0.1/cb", "https://[::1]/cb", "https://[::ffff:10.0.0.1]/cb", "https://2130706433/cb",
		"https://0x7f.1/cb", "https://user:pw@app.example/cb", "https://app.example/cb#frag", "javascript:alert(1)",
		"https:app.example", "//app.example/cb", "https://app.example\\@evil.example/", "https://127.0.0.1.nip.io/",
		"HTTPS://APP.EXAMPLE/cb", "https://app.example:443/cb", "https://%31%32%37.0.0.1/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if CheckRedirectURI(raw, RedirectPolicy{}) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
			t.Fatalf("accepted %q: %+v, %v", raw, u, err)
		}
		if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
			if a = a.Unmap(); a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() {
				t.Fatalf("accepted %q: a local address", raw)
			}
		}
		if err := CheckRedirectURI(raw, RedirectPolicy{AllowHTTP: true, AllowLocal: true}); err != nil {
			t.Fatalf("the looser policy refuses %q, which the default accepts: %v", raw, err)
		}
	})
}
