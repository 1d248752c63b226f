package authserver

import (
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/protocol"
)

// Client authentication at the token endpoint reads an Authorization
// header anyone can send. Whatever the header and body: the answer is the
// body's credentials when there is no header, else Basic credentials
// form-decoded after base64 (RFC 6749 §2.3.1), which, encoded again the
// same way, are read back unchanged; or invalid_client (401, Basic
// challenge) for anything malformed, or invalid_request when the body
// carries credentials too (RFC 6749 §2.3).
func FuzzBasicCredentials(f *testing.F) {
	basic := func(id, sec string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(sec)))
	}
	f.Add(basic("gc_1", "gate_sk_x"), "", "", "gc_1", "s")
	f.Add(basic("a b+c%", "p:w:d"), "a b+c%", "", "a+b", "p%3Aw")
	f.Add("basic   Z2M6cw==  ", "", "", "gc", "s")
	f.Add("Bearer abc", "", "", "", "")
	f.Add("Basic Z2M6cw", "", "", "%zz", "x")
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("no colon")), "", "s", "", "")
	f.Add("", "gc_body", "gate_sk_body", ":", ":")
	f.Fuzz(func(t *testing.T, authz, bodyID, bodySecret, user, pass string) {
		body := protocol.Params{}
		if bodyID != "" {
			body["client_id"] = bodyID
		}
		if bodySecret != "" {
			body["client_secret"] = bodySecret
		}
		id, sec, perr := read(authz, body)
		switch {
		case authz == "":
			if perr != nil || id != bodyID || sec != bodySecret {
				t.Fatalf("no header: %q %q %v", id, sec, perr)
			}
		case perr == nil:
			scheme, _, _ := strings.Cut(authz, " ")
			if !strings.EqualFold(scheme, "basic") {
				t.Fatalf("%q accepted as client credentials %q %q", authz, id, sec)
			}
			if bodySecret != "" || (bodyID != "" && bodyID != id) {
				t.Fatalf("%q with body %v: two authentication methods accepted", authz, body)
			}
			again, sec2, perr := read(basic(id, sec), protocol.Params{})
			if perr != nil || again != id || sec2 != sec {
				t.Fatalf("%q read as %q %q, encoded again as %q: %q %q %v", authz, id, sec, basic(id, sec), again, sec2, perr)
			}
		default:
			checkRefusal(t, authz, perr)
		}

		// A header built from user and pass the way a client would
		// (base64 of user:pass, each already form-encoded or not).
		h := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		id, sec, perr = read(h, protocol.Params{})
		wantID, err1 := url.QueryUnescape(user)
		wantSec, err2 := url.QueryUnescape(pass)
		switch {
		case strings.Contains(user, ":"):
			// The first colon splits (RFC 7617 §2): not this user and pass.
		case err1 != nil || err2 != nil:
			if perr == nil {
				t.Fatalf("%q (%q:%q is not form-encoded) accepted as %q %q", h, user, pass, id, sec)
			}
			checkRefusal(t, h, perr)
		case perr != nil || id != wantID || sec != wantSec:
			t.Fatalf("%q (%q:%q) read as %q %q %v, want %q %q", h, user, pass, id, sec, perr, wantID, wantSec)
		}
	})
}

func read(authz string, body protocol.Params) (string, string, *protocol.Error) {
	r := httptest.NewRequest("POST", "/oauth2/token", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	return credentialsFrom(r, body)
}

// checkRefusal asserts a refused header gets one of the documented errors.
func checkRefusal(t *testing.T, authz string, e *protocol.Error) {
	t.Helper()
	switch {
	case e.Code == "invalid_client" && e.Status == 401 && e.Challenge == "Basic":
	case e.Code == "invalid_request" && e.Status == 400 && strings.Contains(e.Description, "one client authentication method"):
	default:
		t.Fatalf("%q refused with %+v", authz, e)
	}
}
