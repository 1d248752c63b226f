package protocol

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseForm(t *testing.T) {
	p, err := ParseForm([]byte("grant_type=client_credentials&scope=a+b&empty="))
	if err != nil || p.Get("grant_type") != "client_credentials" || p.Get("scope") != "a b" {
		t.Fatalf("%v %v", p, err)
	}
	// RFC 6749 §3.1: a parameter without a value counts as omitted.
	if _, ok := p["empty"]; ok {
		t.Fatal("empty parameter kept")
	}
	if _, err := ParseForm([]byte("a=1&a=2")); err == nil || err.Code != "invalid_request" {
		t.Fatalf("repeat: %v", err)
	}
}

func TestParseJSON(t *testing.T) {
	p, err := ParseJSON([]byte(`{"grant_type":"client_credentials","scope":["a","b"],"n":3}`))
	if err != nil || p.Get("scope") != "a b" || p.Get("n") != "3" {
		t.Fatalf("%v %v", p, err)
	}
	// null, like an empty string, counts as omitted (RFC 6749 §3.1).
	if p, err := ParseJSON([]byte(`{"a":null,"b":""}`)); err != nil || len(p) != 0 {
		t.Fatalf("null: %v %v", p, err)
	}
	for _, bad := range []string{`{"a":"1","a":"2"}`, `{"a":true}`, `{"a":{}}`, `[]`, `{"a":"1"}x`, `{`, ``} {
		if _, err := ParseJSON([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseBodyLimits(t *testing.T) {
	big := "a=" + strings.Repeat("x", MaxBodyBytes)
	r := httptest.NewRequest("POST", "/", strings.NewReader(big))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ParseBody(httptest.NewRecorder(), r); err == nil || err.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %v", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(`{"a":"b"}`))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	if p, err := ParseBody(httptest.NewRecorder(), r); err != nil || p.Get("a") != "b" {
		t.Fatalf("json with charset: %v %v", p, err)
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, ErrInvalidClient.WithChallenge("Basic").WithDescription(`bad "quote"`), nil)
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Basic realm="gatehouse"` ||
		w.Body.String() != "{\"error\":\"invalid_client\",\"error_description\":\"bad 'quote'\"}\n" { // RFC 6749 §5.2 allows no '"'
		t.Fatalf("%d %q %q", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	WriteError(w, ErrTooManyRequests.WithRetryAfter(1500*time.Millisecond), nil)
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("%d %q", w.Code, w.Header())
	}
	// Unknown errors become server_error with no detail.
	w = httptest.NewRecorder()
	WriteError(w, http.ErrHandlerTimeout, nil)
	if w.Code != 500 || strings.Contains(w.Body.String(), "timeout") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// Templates are never mutated.
	if ErrInvalidClient.Challenge != "" || ErrInvalidClient.Description != "" {
		t.Fatal("a shared error value was mutated")
	}
}

func TestBearerChallenge(t *testing.T) {
	if got := Challenge("Bearer", "api", nil); got != `Bearer realm="api"` {
		t.Fatalf("no credentials: %q", got)
	}
	got := Challenge("Bearer", "api", ErrInvalidToken.WithDescription("token \"expired\"\n"))
	if got != `Bearer realm="api", error="invalid_token", error_description="token 'expired''"` {
		t.Fatalf("invalid token: %q", got)
	}
}

func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"grant_type=client_credentials&client_id=a&client_secret=b", "a=1&a=2", "%zz", "a&b=&c=%20"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseForm(body)
		if err != nil {
			if err.Status != 400 {
				t.Fatalf("status %d", err.Status)
			}
			return
		}
		for k, v := range p {
			if v == "" {
				t.Fatalf("empty value kept for %q", k)
			}
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"grant_type":"client_credentials","audience":"x"}`, `{"a":["b","c"]}`, `{"a":1e3}`, `{"a":"1","a":"2"}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseJSON(body)
		if err != nil {
			if err.Status != 400 || err.Code != "invalid_request" {
				t.Fatalf("error %+v", err)
			}
			return
		}
		for k, v := range p {
			if v == "" {
				t.Fatalf("empty value kept for %q", k)
			}
		}
	})
}

// A value that cannot be encoded is a 500 with a JSON error, never the
// status promised with a half-written or empty body.
func TestWriteJSONEncodesFirst(t *testing.T) {
	w := httptest.NewRecorder()
	err := WriteJSON(w, http.StatusCreated, map[string]any{"expires_at": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err == nil || w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"server_error"`) {
		t.Fatalf("WriteJSON of an unencodable value: %v, %d %q", err, w.Code, w.Body.String())
	}
	w = httptest.NewRecorder()
	if err := WriteJSON(w, http.StatusCreated, map[string]int{"a": 1}); err != nil || w.Code != http.StatusCreated || w.Body.String() != "{\"a\":1}\n" {
		t.Fatalf("WriteJSON = %v, %d %q", err, w.Code, w.Body.String())
	}
}
