package secret

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestNewAndParse(t *testing.T) {
	for _, k := range []Kind{ClientSecret, PersonalAccessToken, APIKey, RefreshToken, AccessToken, AdminToken} {
		s := New(k)
		if !strings.HasPrefix(s, "gate_"+string(k)+"_") || len(s) != len("gate_"+string(k)+"_")+randomLen+checksumLen {
			t.Fatalf("%s: bad shape %q", k, s)
		}
		if err := Parse(s, k); err != nil {
			t.Fatalf("%s: Parse(own secret) = %v", k, err)
		}
		if New(k) == s {
			t.Fatal("two secrets are equal")
		}
	}
}

func TestParseRefuses(t *testing.T) {
	good := New(ClientSecret)
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":              "",
		"no prefix":          good[5:],
		"wrong kind":         strings.Replace(good, "gate_sk_", "gate_pat_", 1),
		"unknown kind":       strings.Replace(good, "gate_sk_", "gate_xx_", 1),
		"typo in random":     flip(12),
		"typo in checksum":   flip(len(good) - 1),
		"truncated":          good[:len(good)-1],
		"extended":           good + "a",
		"bad character":      good[:20] + "-" + good[21:],
		"uppercase prefix":   strings.ToUpper(good[:5]) + good[5:],
		"another kind whole": New(PersonalAccessToken),
	}
	for name, s := range cases {
		if err := Parse(s, ClientSecret); err == nil {
			t.Errorf("%s: Parse(%q) accepted", name, s)
		}
	}
}

func TestDigest(t *testing.T) {
	s := New(ClientSecret)
	d := Hash(s)
	back, err := ParseDigest(d.String())
	if err != nil || !back.Equal(d) || Hash(s+"x").Equal(d) {
		t.Fatal("digest round trip")
	}
	if _, err := ParseDigest("zz"); err == nil {
		t.Fatal("ParseDigest accepted junk")
	}
	if Hint(s) != s[:12] {
		t.Fatalf("hint %q", Hint(s))
	}
}

func TestSealer(t *testing.T) {
	key, err := ParseMasterKey(NewMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewSealer(key)
	sealed := s.Seal([]byte("private key"), []byte("kid1"))
	if got, err := s.Open(sealed, []byte("kid1")); err != nil || string(got) != "private key" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, []byte("kid2")); err == nil {
		t.Fatal("opened with the wrong associated data")
	}
	other, _ := NewSealer(make([]byte, MasterKeySize))
	if _, err := other.Open(sealed, []byte("kid1")); err == nil {
		t.Fatal("opened with the wrong master key")
	}
	if _, err := ParseMasterKey("short"); err == nil {
		t.Fatal("short master key accepted")
	}
	if _, err := ParseMasterKey(strings.Repeat("ab", 32)); err != nil {
		t.Fatalf("hex master key: %v", err)
	}
}

func FuzzKindOf(f *testing.F) {
	f.Add(New(ClientSecret))
	f.Add(New(PersonalAccessToken))
	f.Add("gate_sk_")
	f.Add("gate__x")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := KindOf(s)
		if err != nil {
			return
		}
		// Whatever parses must parse again as its own kind and only that.
		if Parse(s, k) != nil || !strings.HasPrefix(s, "gate_"+string(k)+"_") {
			t.Fatalf("inconsistent parse of %q", s)
		}
	})
}

func BenchmarkVerifySecret(b *testing.B) {
	s := New(ClientSecret)
	stored := Hash(s)
	b.ReportAllocs()
	for b.Loop() {
		if Parse(s, ClientSecret) != nil || !Hash(s).Equal(stored) {
			b.Fatal("mismatch")
		}
	}
}

// BenchmarkVerifySecretPBKDF2 is the baseline: what Ory Hydra spends per
// client authentication (PBKDF2-SHA256, 25,000 iterations).
func BenchmarkVerifySecretPBKDF2(b *testing.B) {
	s := New(ClientSecret)
	salt := []byte("0123456789abcdef")
	stored, _ := pbkdf2.Key(sha256.New, s, salt, 25000, 32)
	b.ReportAllocs()
	for b.Loop() {
		got, _ := pbkdf2.Key(sha256.New, s, salt, 25000, 32)
		if !bytes.Equal(got, stored) {
			b.Fatal("mismatch")
		}
	}
}

func TestSealerDerive(t *testing.T) {
	a, _ := NewSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	a2, _ := NewSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	b, _ := NewSealer(bytes.Repeat([]byte{2}, MasterKeySize))
	k := a.Derive("webhook tn_1")
	if len(k) != 32 || !bytes.Equal(k, a2.Derive("webhook tn_1")) {
		t.Fatal("a derived key must be 32 bytes and stable for one master key")
	}
	if bytes.Equal(k, a.Derive("webhook tn_2")) || bytes.Equal(k, b.Derive("webhook tn_1")) ||
		bytes.Equal(k, bytes.Repeat([]byte{1}, MasterKeySize)) {
		t.Fatal("keys for other purposes or master keys must differ")
	}
}
