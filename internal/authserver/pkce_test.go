package authserver

import (
	"strings"
	"testing"
)

// RFC 7636 Appendix B's example, and the verifier rules of §4.1.
func TestPKCE(t *testing.T) {
	const verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !pkceMatches(verifier, challenge) {
		t.Fatal("RFC 7636 Appendix B example refused")
	}
	for name, v := range map[string]string{
		"other verifier": strings.Replace(verifier, "d", "e", 1),
		"too short":      verifier[:42],
		"too long":       strings.Repeat("a", 129),
		"bad character":  verifier[:42] + "+",
		"empty":          "",
		"the challenge":  challenge, // plain would accept this
	} {
		if pkceMatches(v, challenge) {
			t.Errorf("%s: accepted", name)
		}
	}
}
