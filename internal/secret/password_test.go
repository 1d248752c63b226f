package secret

import (
	"errors"
	"strings"
	"testing"
)

// cheap keeps the tests fast; the format is the same at any cost.
var cheap = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestPasswordHashRoundTrip(t *testing.T) {
	h := HashPassword("correct horse battery staple", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with its parameters", h)
	}
	if h2 := HashPassword("correct horse battery staple", cheap); h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "correct horse battery stapl": false, "": false, "Correct horse battery staple": false} {
		if ok, err := VerifyPassword(h, pw); err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if p, err := PasswordParamsOf(h); err != nil || p != cheap {
		t.Fatalf("PasswordParamsOf = %+v, %v", p, err)
	}
}

// Verification uses the parameters in the string: changing them (or the
// salt) makes the right password fail, and out-of-bounds or malformed
// parameters are refused before any hashing.
func TestPasswordTampered(t *testing.T) {
	pw := "correct horse battery staple"
	h := HashPassword(pw, cheap)
	parts := strings.Split(h, "$")
	for name, tampered := range map[string]string{
		"time":    strings.Replace(h, "t=1", "t=2", 1),
		"memory":  strings.Replace(h, "m=64", "m=128", 1),
		"threads": strings.Replace(h, "p=1", "p=2", 1),
		"salt":    strings.Replace(h, parts[4], "AAAAAAAAAAAAAAAAAAAAAA", 1),
	} {
		if ok, err := VerifyPassword(tampered, pw); ok || err != nil {
			t.Errorf("%s tampered: VerifyPassword = %v, %v; want false, nil", name, ok, err)
		}
	}
	for name, bad := range map[string]string{
		"argon2i":       strings.Replace(h, "argon2id", "argon2i", 1),
		"version":       strings.Replace(h, "v=19", "v=16", 1),
		"huge memory":   strings.Replace(h, "m=64", "m=4194304", 1),
		"huge time":     strings.Replace(h, "t=1", "t=1000", 1),
		"zero threads":  strings.Replace(h, "p=1", "p=0", 1),
		"leading zero":  strings.Replace(h, "t=1", "t=01", 1),
		"extra param":   strings.Replace(h, "p=1", "p=1,x=2", 1),
		"short hash":    strings.Replace(h, parts[5], "AAAA", 1),
		"bad base64":    strings.Replace(h, parts[5], "!!!!", 1),
		"empty":         "",
		"bcrypt":        "$2a$10$abcdefghijklmnopqrstuv",
		"missing field": strings.Join(parts[:5], "$"),
	} {
		if ok, err := VerifyPassword(bad, pw); ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: VerifyPassword = %v, %v; want ErrMalformed", name, ok, err)
		}
	}
}

func TestDefaultPasswordParams(t *testing.T) {
	h := HashPassword("x", DefaultPasswordParams())
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("default hash %q", h)
	}
	if ok, err := VerifyPassword(h, "x"); !ok || err != nil {
		t.Fatalf("VerifyPassword = %v, %v", ok, err)
	}
}
