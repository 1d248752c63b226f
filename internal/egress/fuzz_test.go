package egress

import (
	"net/netip"
	"testing"
)

// Tenants choose the URLs Gatehouse fetches, so the address it is about
// to dial is outside input too (an IP literal in the URL, or whatever DNS
// answered). Whatever the address: the dialler's check agrees with Public;
// a zone (RFC 6874: which interface, not which host) never turns a refused
// address into an allowed one; and nothing loopback, private, link-local
// or unspecified, in any spelling, is public.
func FuzzPublic(f *testing.F) {
	for _, s := range []string{"8.8.8.8", "2606:4700:4700::1111", "127.0.0.1", "::ffff:10.0.0.1", "169.254.169.254", "fe80::1%eth0",
		"::1%lo", "64:ff9b::a00:1", "64:ff9b::a00:1%lo", "2002:a00:1::1%1", "::a00:1%x", "fd00::1%25", "100.64.0.1", "0.1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		pub := Public(a)
		if dialErr := refusePrivate("tcp", netip.AddrPortFrom(a, 443).String(), nil); (dialErr == nil) != pub {
			t.Fatalf("%s: Public %v, but the dialler's check says %v", a, pub, dialErr)
		}
		u := a.Unmap()
		if pub && (u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsUnspecified() || u.IsMulticast()) {
			t.Fatalf("%s is public", a)
		}
		if a.Zone() != "" && pub {
			t.Fatalf("%s names an interface zone and is public", a)
		}
	})
}
