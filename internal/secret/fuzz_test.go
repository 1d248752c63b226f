package secret

import (
	"crypto/sha256"
	"strings"
	"testing"
)

var allKinds = []Kind{ClientSecret, PersonalAccessToken, APIKey, RefreshToken, AccessToken, AdminToken}

// A secret is checked offline before any lookup, so its checksum is what
// stands between a typo (or a forged string) and the store: whatever the
// input, a string Parse accepts round-trips through its digest and hint,
// and every one-character change of a well-formed secret is refused.
func FuzzParse(f *testing.F) {
	f.Add(New(ClientSecret), uint(12), byte('a'))
	f.Add(New(PersonalAccessToken), uint(0), byte('G'))
	f.Add("gate_ak_"+strings.Repeat("0", randomLen+checksumLen), uint(8), byte('1'))
	f.Add("gate_rt_x", uint(3), byte('_'))
	f.Add("gate_at_", uint(60), byte(0))
	f.Fuzz(func(t *testing.T, s string, pos uint, b byte) {
		if k, err := KindOf(s); err == nil {
			checkAccepted(t, s, k)
		}
		// The fuzzer cannot find a checksum by itself: mint a well-formed
		// secret from s, then change one byte of it.
		k := allKinds[pos%uint(len(allKinds))]
		sum := sha256.Sum256([]byte(s))
		head := prefix + string(k) + "_" + encode(sum[:], randomLen)
		good := head + checksum(head)
		if err := Parse(good, k); err != nil {
			t.Fatalf("well-formed %q refused: %v", good, err)
		}
		checkAccepted(t, good, k)
		i := int(pos % uint(len(good)))
		if good[i] == b {
			return
		}
		bad := good[:i] + string([]byte{b}) + good[i+1:]
		if kind, err := KindOf(bad); err == nil {
			t.Fatalf("%q (byte %d of %q changed to %q) accepted as %s", bad, i, good, b, kind)
		}
	})
}

// checkAccepted asserts what holds for every secret Parse accepts.
func checkAccepted(t *testing.T, s string, k Kind) {
	t.Helper()
	if Parse(s, k) != nil || !strings.HasPrefix(s, prefix+string(k)+"_") || len(s) != len(prefix)+len(k)+1+randomLen+checksumLen {
		t.Fatalf("inconsistent parse of %q as %s", s, k)
	}
	for _, other := range allKinds {
		if other != k && Parse(s, other) == nil {
			t.Fatalf("%q parses as both %s and %s", s, k, other)
		}
	}
	d := Hash(s)
	back, err := ParseDigest(d.String())
	if err != nil || back != d {
		t.Fatalf("digest of %q does not round-trip: %v", s, err)
	}
	// The hint is shown in listings: the kind and four random characters,
	// never the rest.
	if h := Hint(s); h != s[:len(prefix)+len(k)+1+4] {
		t.Fatalf("hint %q of %q", h, s)
	}
}
