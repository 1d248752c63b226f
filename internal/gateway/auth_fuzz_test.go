package gateway

import (
	"context"
	"github.com/gatehouse/gatehouse/internal/credential"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// rfc7235Token68 is RFC 7235's token68, the syntax of a bearer token
// (RFC 6750 §2.1: b64token).
var rfc7235Token68 = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// The gateway reads the bearer token out of an Authorization header anyone
// can send, before anything else looks at it. Whatever the header: the
// token handed on is an RFC 6750 b64token of at most 8 KiB, sent with the
// Bearer scheme in any letter case; and "Bearer " + that token is read
// back as the same token.
func FuzzBearerHeader(f *testing.F) {
	for _, h := range []string{
		"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "bearer gate_pat_abc", "BEARER   a==  ", "Bearer a=b",
		"Bearer =", "Bearer a b", "Bearer\ta", "Basic Z2M6cw==", "Bearer", "Bearer " + strings.Repeat("a", 8193),
		"Bearer a\x00", "Bearer ä",
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := bearer(h)
		if !ok {
			return
		}
		if !rfc7235Token68.MatchString(tok) || len(tok) > 8192 {
			t.Fatalf("%q: token %q is not a b64token", h, tok)
		}
		if scheme, _, _ := strings.Cut(h, " "); !strings.EqualFold(scheme, "bearer") {
			t.Fatalf("%q: token read under scheme %q", h, scheme)
		}
		if again, ok := bearer("Bearer " + tok); !ok || again != tok {
			t.Fatalf("%q: token %q read back as %q, %v", h, tok, again, ok)
		}
	})
}

// bearer is the header handling of (*Gateway).verifyBearer.
func bearer(h string) (string, bool) {
	scheme, tok := protocol.AuthScheme(h)
	return tok, scheme == "bearer" && token68(tok)
}

// A signed link is a capability anyone holding the URL can use, and anyone
// can change the URL. Whatever the path, subject and lifetime asked for, a
// link Sign makes verifies as that subject until it expires; whatever is
// then done to its URL, a link that still verifies is a GET of the very
// path and query (less the link's own parameters) that was signed, which
// is what the upstream is sent; and no link verifies beyond MaxLinkTTL.
func FuzzSignedLink(f *testing.F) {
	l := fuzzLinks(f)
	f.Add("/api/acme/files/42", "user:ada", int64(3600), "", uint16(0), byte(0), "GET")
	f.Add("/api/acme/files/42?download=1&x=a+b", "ada@acme.test", int64(1), "&download=2", uint16(0), byte(0), "HEAD")
	f.Add("/api/acme/files/a%2Fb", "ü", int64(60), "", uint16(20), byte('A'), "GET")
	f.Add("/api/acme/files/42", "x", int64(3600), "&gh_sub=root", uint16(0), byte(0), "GET")
	f.Add("/api/acme/files/42", "x", int64(3600), "", uint16(60), byte('%'), "POST")
	f.Add("/api/acme/files/42;x", "x", int64(7200), "", uint16(0), byte(0), "GET")
	f.Add("/a/../b", "", int64(-1), "?", uint16(0), byte(0), "GET")
	f.Fuzz(func(t *testing.T, p, subject string, ttlSeconds int64, extra string, at uint16, b byte, method string) {
		// The admin API asks for whole seconds.
		link, exp, err := l.Sign(p, subject, time.Duration(ttlSeconds)*time.Second)
		if err != nil {
			return
		}
		if !exp.After(l.Now()) || exp.After(l.Now().Add(MaxLinkTTL)) {
			t.Fatalf("link %q expires %v", link, exp)
		}
		signed := requestOf(t, http.MethodGet, strings.TrimPrefix(link, l.Base))
		if signed == nil {
			t.Fatalf("Sign made %q, which is not a URL", link)
		}
		pr, err := l.verify(signed, &match{tenant: "acme"})
		if err != nil || pr.Subject != subject || !pr.Expiry.Equal(exp) || pr.Tenant != "acme" || pr.Kind != credential.SignedLink {
			t.Fatalf("fresh link %q: %+v, %v", link, pr, err)
		}
		want := upstreamView(signed)

		// The same URL, changed: bytes appended, and one byte replaced.
		changed := strings.TrimPrefix(link, l.Base) + extra
		if i := int(at); i > 0 && i < len(changed) {
			changed = changed[:i] + string([]byte{b}) + changed[i+1:]
		}
		r := requestOf(t, method, changed)
		if r == nil {
			return
		}
		if pr, err := l.verify(r, &match{tenant: "acme"}); err == nil {
			if got := upstreamView(r); got != want || (method != "GET" && method != "HEAD") {
				t.Fatalf("%s %q, changed from %q, verifies (%+v) but sends %q upstream, not %q", method, changed, link, pr, got, want)
			}
			if pr.Subject != subject {
				t.Fatalf("%q, changed from %q, verifies as subject %q", changed, link, pr.Subject)
			}
		}
		late := *l
		late.Now = func() time.Time { return exp }
		if _, err := late.verify(signed, &match{tenant: "acme"}); err != ErrLinkExpired {
			t.Fatalf("link %q at its expiry: %v", link, err)
		}
	})
}

func fuzzNow() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

// requestOf builds a request for a request URI, as the server would have
// parsed it (nil when it would not have).
func requestOf(t *testing.T, method, uri string) *http.Request {
	u, err := url.ParseRequestURI(uri)
	if err != nil || !strings.HasPrefix(uri, "/") {
		return nil
	}
	return (&http.Request{Method: method, URL: u, Header: http.Header{}}).WithContext(context.Background())
}

// upstreamView is the path and query the upstream gets for a link request
// (see rewrite): the decoded path, and the query less the link parameters.
func upstreamView(r *http.Request) string {
	q := r.URL.Query()
	for _, k := range linkParams {
		q.Del(k)
	}
	return r.URL.Path + "?" + q.Encode()
}

func fuzzLinks(f *testing.F) *Links {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "g.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	key, _ := secret.ParseMasterKey(secret.NewMasterKey())
	sealer, _ := secret.NewSealer(key)
	km := &keys.Manager{Store: s, Sealer: sealer, Alg: jose.ES256, Overlap: time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: fuzzNow}
	if err := km.Load(ctx); err != nil {
		f.Fatal(err)
	}
	return &Links{Keys: km, Now: fuzzNow, Base: "https://gatehouse.example"}
}
