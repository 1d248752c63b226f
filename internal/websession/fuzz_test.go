package websession_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/websession"
)

// The session cookie comes back from the browser as anything at all.
// Whatever the Cookie header, User names a user only for a cookie Set
// made for that tenant; a cookie Set makes names its user until Lifetime
// has passed, for its tenant only; and a cookie with one byte changed
// names nobody, unless the change is invisible once decoded (the unused
// low bits of a base64 character).
func FuzzSessionCookie(f *testing.F) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ss := &websession.Sessions{Keys: fuzzKeys(f, now), Now: func() time.Time { return now }}
	issued := sessionOf(ss, "tn_a", "usr_1")
	f.Add(websession.SessionCookie+"="+issued, "tn_a", "usr_1", uint16(3), byte('A'))
	f.Add(websession.SessionCookie+"="+issued+"; "+websession.SessionCookie+"=x", "tn_b", "usr_2", uint16(70), byte('.'))
	f.Add("gatehouse_session=eyJ0IjoidG5fYSIsInUiOiJ1c3JfMSIsImUiOjk5OTk5OTk5OTksImsiOiJ4In0.c2ln", "", "", uint16(0), byte(0))
	f.Add("gatehouse_session=!!.??", "tn_\"a", "usr\x00", uint16(1), byte(0xff))
	f.Fuzz(func(t *testing.T, cookie, tenant, user string, at uint16, b byte) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", cookie)
		if u := ss.User(r, "tn_a"); u != "" && !sameSession(r, issued) {
			t.Fatalf("Cookie %q names user %q", cookie, u)
		}

		if !utf8.ValidString(tenant) || !utf8.ValidString(user) || user == "" {
			return // ids are ASCII; JSON would replace invalid UTF-8
		}
		v := sessionOf(ss, tenant, user)
		if u := ss.User(requestWith(v), tenant); u != user {
			t.Fatalf("session of %q in %q reads as %q", user, tenant, u)
		}
		if u := ss.User(requestWith(v), tenant+"x"); u != "" {
			t.Fatalf("session of %q in %q names %q in %q", user, tenant, u, tenant+"x")
		}
		late := *ss
		late.Now = func() time.Time { return now.Add(websession.Lifetime) }
		if u := late.User(requestWith(v), tenant); u != "" {
			t.Fatalf("session of %q still names %q after its lifetime", user, u)
		}
		if i := int(at) % len(v); v[i] != b {
			changed := v[:i] + string([]byte{b}) + v[i+1:]
			if r := requestWith(changed); ss.User(r, tenant) != "" && !sameSession(r, v) {
				t.Fatalf("%q, one byte off %q, names a user", changed, v)
			}
		}
	})
}

func sessionOf(ss *websession.Sessions, tenant, user string) string {
	w := httptest.NewRecorder()
	ss.Set(w, tenant, user)
	return w.Result().Cookies()[0].Value
}

func requestWith(v string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: websession.SessionCookie, Value: v})
	return r
}

// sameSession reports whether r's session cookie decodes to the same body
// and signature as the value Set made.
func sameSession(r *http.Request, value string) bool {
	c, err := r.Cookie(websession.SessionCookie)
	if err != nil {
		return false
	}
	decode := func(v string) (body, sig []byte) {
		b64, sig64, _ := strings.Cut(v, ".")
		body, _ = base64.RawURLEncoding.DecodeString(b64)
		sig, _ = base64.RawURLEncoding.DecodeString(sig64)
		return body, sig
	}
	b1, s1 := decode(c.Value)
	b2, s2 := decode(value)
	return bytes.Equal(b1, b2) && bytes.Equal(s1, s2)
}

func fuzzKeys(f *testing.F, now time.Time) *keys.Manager {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "g.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	key, _ := secret.ParseMasterKey(secret.NewMasterKey())
	sealer, _ := secret.NewSealer(key)
	km := &keys.Manager{Store: s, Sealer: sealer, Alg: jose.ES256, Overlap: time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	if err := km.Load(ctx); err != nil {
		f.Fatal(err)
	}
	return km
}
