package protocol

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Clean makes caller-supplied text safe to echo, log or store: invalid UTF-8
// becomes U+FFFD, control characters (NUL included) become '?', and the
// result is cut to at most n bytes on a character boundary. PostgreSQL
// refuses NUL and invalid UTF-8 in text columns, so nothing an attacker sends
// can make an audit write fail.
func Clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Printable reports whether s is valid UTF-8 without control characters:
// the rule for names and other free text an admin stores.
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// AuthScheme splits an Authorization header into its scheme, lower-cased,
// and its credentials.
func AuthScheme(h string) (scheme, credentials string) {
	scheme, credentials, _ = strings.Cut(h, " ")
	return strings.ToLower(scheme), strings.TrimSpace(credentials)
}

// MaxTime is the latest instant Gatehouse accepts from a caller:
// RFC 3339 has four digits for the year, and Go's JSON encoder refuses a
// time past it. A chosen expiry beyond it is refused, a date of its last
// day lasts until it.
var MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Earlier is the earlier of a and b.
func Earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
