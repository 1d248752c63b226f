package sessions

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// RFC 7636 Appendix B's example.
const rfcVerifier, rfcChallenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

func TestPKCE(t *testing.T) {
	if !PKCEMatches(rfcVerifier, rfcChallenge) {
		t.Fatal("RFC 7636 Appendix B example refused")
	}
	for name, v := range map[string]string{
		"other verifier": strings.Replace(rfcVerifier, "d", "e", 1),
		"too short":      rfcVerifier[:42],
		"too long":       strings.Repeat("a", 129),
		"bad character":  rfcVerifier[:42] + "+",
		"empty":          "",
		"the challenge":  rfcChallenge, // plain would accept this
	} {
		if PKCEMatches(v, rfcChallenge) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckCode(t *testing.T) {
	code := &store.AuthCode{ClientID: "gc_app", RedirectURI: "https://app.example/cb", Challenge: rfcChallenge, ExpiresAt: t0.Add(time.Minute)}
	noRedirect := *code
	noRedirect.RedirectURI = ""
	for _, c := range []struct {
		name                       string
		code                       *store.AuthCode
		client, redirect, verifier string
		now                        time.Time
		want                       error
	}{
		{"good", code, "gc_app", "https://app.example/cb", rfcVerifier, t0, nil},
		{"another client's", code, "gc_other", "https://app.example/cb", rfcVerifier, t0, ErrBadCode},
		{"expired", code, "gc_app", "https://app.example/cb", rfcVerifier, t0.Add(time.Minute), ErrBadCode},
		{"another redirect", code, "gc_app", "https://app.example/other", rfcVerifier, t0, ErrRedirectMismatch},
		{"redirect left out though the request had it", code, "gc_app", "", rfcVerifier, t0, ErrRedirectMismatch},
		{"no redirect in the request: none needed", &noRedirect, "gc_app", "", rfcVerifier, t0, nil},
		{"wrong verifier", code, "gc_app", "https://app.example/cb", strings.Repeat("a", 43), t0, ErrVerifier},
		{"no verifier", code, "gc_app", "https://app.example/cb", "", t0, ErrVerifier},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := CheckCode(c.code, c.client, c.redirect, c.verifier, c.now); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Errorf("CheckCode = %v, want %v", err, c.want)
			}
		})
	}
}
