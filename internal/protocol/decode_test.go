package protocol

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	type in struct {
		Name string `json:"name"`
	}
	for _, tc := range []struct {
		name, ct, body string
		status         int // 0: accepted
	}{
		{"ok", "application/json; charset=utf-8", `{"name":"a"}`, 0},
		{"form", "application/x-www-form-urlencoded", `name=a`, http.StatusUnsupportedMediaType},
		{"no type", "", `{"name":"a"}`, http.StatusUnsupportedMediaType},
		{"unknown field", "application/json", `{"name":"a","admin":true}`, http.StatusBadRequest},
		{"trailing", "application/json", `{"name":"a"} {}`, http.StatusBadRequest},
		{"not an object", "application/json", `["a"]`, http.StatusBadRequest},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", 100) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			var v in
			err := DecodeJSON(httptest.NewRecorder(), r, &v, 64)
			var pe *Error
			switch {
			case tc.status == 0 && (err != nil || v.Name != "a"):
				t.Errorf("%v %+v", err, v)
			case tc.status != 0 && (!errors.As(err, &pe) || pe.Status != tc.status):
				t.Errorf("error %v, want status %d", err, tc.status)
			}
		})
	}
}
