package httpx

import (
	"net/http"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse/gatehouse/internal/protocol"
)

// PathProblem says why r's path is not in canonical form, or "": the
// gateway decides routes and tenants on the decoded path, and an upstream
// (or the server's own mux) must not read it differently. Refused: a path
// not starting with "/", backslashes and NUL, encoded slashes and
// backslashes, and every segment that is, or could be read as, a dot
// segment (RFC 3986 §3.3): "." and "..", their ";param" variants, runs of
// dots ("..."), dots with trailing spaces or control characters ("..%20",
// "..%09"), and compatibility forms that normalize to dots (the
// full-width "．．", NFKC).
func PathProblem(r *http.Request) string {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return "the path is not in canonical form"
	}
	if raw := strings.ToLower(r.URL.RawPath); strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") {
		return "encoded slashes are not allowed in the path"
	}
	for _, seg := range strings.Split(p, "/") {
		if DotLike(seg) {
			return "the path is not in canonical form"
		}
	}
	return ""
}

// DotLike reports whether a path segment is a dot segment or could be
// taken for one by a server that trims, normalizes or strips parameters.
func DotLike(seg string) bool {
	if seg == "" {
		return false
	}
	t := seg
	if !isASCII(t) {
		t = norm.NFKC.String(t)
	}
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	t = strings.TrimFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
	return t != "" && strings.Trim(t, ".") == ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// CanonicalPaths refuses, with 400 invalid_request, a request whose path
// is not in canonical form (PathProblem), before a mux could redirect it
// to a cleaned path (ServeMux answers 307 for "/a/../b") or an upstream
// could read it differently.
func CanonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := PathProblem(r); why != "" {
			protocol.WriteError(w, protocol.ErrInvalidRequest.WithDescription(why), nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}
