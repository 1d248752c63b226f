package websession_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/websession"
)

func TestSessionCookie(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	now := time.Now()
	ss := &websession.Sessions{Keys: s.Keys, Now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	ss.Set(rec, "tn_a", "usr_1")
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Name != websession.SessionCookie {
		t.Fatalf("cookie %+v", cookie)
	}
	with := func(v string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: websession.SessionCookie, Value: v})
		return r
	}
	if u := ss.User(with(cookie.Value), "tn_a"); u != "usr_1" {
		t.Fatalf("User = %q", u)
	}
	body, sig, _ := strings.Cut(cookie.Value, ".")
	for name, v := range map[string]string{
		"another tenant": "", "tampered body": "x" + body + "." + sig, "no signature": body, "junk": "!!.??",
		"signature of another body": strings.Replace(cookie.Value, body[:4], "AAAA", 1),
	} {
		tenant := "tn_a"
		if name == "another tenant" {
			v, tenant = cookie.Value, "tn_b"
		}
		if u := ss.User(with(v), tenant); u != "" {
			t.Errorf("%s: User = %q", name, u)
		}
	}
	now = now.Add(websession.Lifetime)
	if u := ss.User(with(cookie.Value), "tn_a"); u != "" {
		t.Errorf("expired session: User = %q", u)
	}
}

func TestCSRF(t *testing.T) {
	ss := &websession.Sessions{Now: time.Now}
	rec := httptest.NewRecorder()
	tok := ss.CSRF(rec, httptest.NewRequest("GET", "/console/acme/tokens", nil), "/console/")
	c := rec.Result().Cookies()[0]
	if c.SameSite != http.SameSiteStrictMode || !c.HttpOnly || c.Path != "/console/" || len(tok) < 32 {
		t.Fatalf("csrf cookie %+v", c)
	}
	// A page in another tab reuses the browser's token rather than making
	// the first tab's forms stale; a malformed cookie is replaced.
	again := httptest.NewRequest("GET", "/console/acme/users", nil)
	again.AddCookie(c)
	rec2 := httptest.NewRecorder()
	if got := ss.CSRF(rec2, again, "/console/"); got != tok || len(rec2.Result().Cookies()) != 0 {
		t.Errorf("second page: token %q (want the first), cookies %v", got, rec2.Result().Cookies())
	}
	junk := httptest.NewRequest("GET", "/console/acme/users", nil)
	junk.AddCookie(&http.Cookie{Name: websession.CSRFCookie, Value: "short"})
	if got := ss.CSRF(httptest.NewRecorder(), junk, "/console/"); got == "short" || len(got) < 32 {
		t.Errorf("a malformed cookie was reused: %q", got)
	}
	post := func(cookie, field string) bool {
		r := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{"csrf": {field}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: websession.CSRFCookie, Value: cookie})
		}
		r.ParseForm()
		return websession.CSRFOK(r)
	}
	if !post(tok, tok) || post("", tok) || post(tok, "") || post(tok, websession.RandomToken()) || post("short", "short") {
		t.Error("CSRFOK must accept exactly a matching cookie and field of full length")
	}
}

// Signing out ends the session on every replica: the deny list a second
// replica reads refuses the cookie once its copy is refreshed, and two
// sessions of one user are ended separately.
func TestEndSession(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	replica := &authn.Authenticator{Store: s.Store, Now: time.Now, Log: s.Log} // another replica's copy of the deny list
	here := &websession.Sessions{Keys: s.Keys, Now: time.Now, Ended: s.Auth}
	there := &websession.Sessions{Keys: s.Keys, Now: time.Now, Ended: replica}
	cookieOf := func() string {
		rec := httptest.NewRecorder()
		here.Set(rec, "tn_a", "usr_1")
		return rec.Result().Cookies()[0].Value
	}
	with := func(v string) *http.Request {
		r := httptest.NewRequest("POST", "/signout", nil)
		r.AddCookie(&http.Cookie{Name: websession.SessionCookie, Value: v})
		return r
	}
	laptop, phone := cookieOf(), cookieOf()
	rec := httptest.NewRecorder()
	recorded, err := here.End(rec, with(laptop), store.Event{Time: time.Now(), Actor: "user:usr_1", Action: "user.logout", Outcome: "success"})
	if err != nil || !recorded {
		t.Fatalf("End = %v, %v", recorded, err)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("End did not clear the cookie: %+v", c)
	}
	if u := here.User(with(laptop), "tn_a"); u != "" {
		t.Fatal("the ended session still opens on the replica that ended it")
	}
	if err := replica.RefreshDenyList(context.Background()); err != nil {
		t.Fatal(err)
	}
	if u := there.User(with(laptop), "tn_a"); u != "" {
		t.Fatal("the ended session still opens on another replica after its deny-list refresh")
	}
	if u := there.User(with(phone), "tn_a"); u != "usr_1" {
		t.Fatal("signing out on one device ended the user's other session")
	}
	if recorded, err := here.End(httptest.NewRecorder(), httptest.NewRequest("POST", "/signout", nil), store.Event{}); err != nil || recorded {
		t.Fatalf("End without a session = %v, %v; want nothing recorded", recorded, err)
	}
}
