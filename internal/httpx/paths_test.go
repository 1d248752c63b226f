package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPathProblem(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want bool // refused
	}{
		{"/api/acme/submissions", false},
		{"/api/acme/v1.2/items", false},
		{"/api/acme/.well-known-ish", false},
		{"/api/acme/file.tar.gz", false},
		{"/api/acme/a..b", false},
		{"/api/acme/..", true},
		{"/api/acme/../beta", true},
		{"/api/./acme", true},
		{"/api/acme/..;x/beta", true},
		{"/api/acme/.;/beta", true},
		{"/api/acme/..%20/beta", true},
		{"/api/acme/..%09/beta", true},
		{"/api/acme/%20../beta", true},
		{"/api/acme/...../beta", true},
		{"/api/acme/%EF%BC%8E%EF%BC%8E/beta", true}, // full-width ．．
		{"/api/acme/%E2%80%A4%E2%80%A4/beta", true}, // one dot leaders
		{"/api/acme%2fbeta", true},
		{"/api/acme%5Cbeta", true},
		{"/api/acme/%00", true},
	} {
		r := httptest.NewRequest("GET", "http://x"+c.raw, nil)
		if got := PathProblem(r) != ""; got != c.want {
			t.Errorf("%s: refused %v, want %v", c.raw, got, c.want)
		}
	}
}

// Before a mux could redirect: plain ".." is 400, not ServeMux's 307.
func TestCanonicalPaths(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	h := CanonicalPaths(mux)
	for path, want := range map[string]int{"/a/b": 200, "/a/../b": 400, "/a/./b": 400} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://x/", nil)
		r.URL.Path = path
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", path, w.Code, want)
		}
	}
}
