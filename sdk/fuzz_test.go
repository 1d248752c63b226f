package sdk

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A token endpoint's answer is outside input: whatever it sends, parsing
// neither panics nor yields a token without an access token, and an error
// response always becomes an *OAuthError with a code.
func FuzzTokenResponse(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"a","token_type":"Bearer","expires_in":3600}`,
		`{"access_token":"a","expires_at":1209600}`,
		`{"access_token":"h.eyJleHAiOjE3OTk5OTk5OTl9.s","refresh_token":"r"}`,
		`{"access_token":"a","token_type":"mac"}`,
		`{"access_token":1}`, `{"expires_in":"x"}`, `[]`, `null`, ``,
		`{"error":"refresh_too_early","retry_after":1e308}`,
		`{"error":"invalid_client","error_description":"` + strings.Repeat("x", 300) + `"}`,
	} {
		f.Add(seed, "")
	}
	f.Add(`{"access_token":"a"}`, "99999999999")
	shapes := []Shape{Gatehouse.withDefaults(), IntigritiV1.withDefaults(), Intergiro.withDefaults()}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body, retry string) {
		for _, s := range shapes {
			tok, err := s.parseToken([]byte(body), now)
			if err == nil && (tok.AccessToken == "" || tok.TokenType != "Bearer") {
				t.Fatalf("%s accepted %q as %+v", s.Name, body, tok)
			}
		}
		resp := &http.Response{StatusCode: 400, Header: http.Header{"Retry-After": {retry}}, Body: io.NopCloser(strings.NewReader(body))}
		if e := errorFrom(resp); e.Code == "" || e.RetryAfter < 0 {
			t.Fatalf("error response %q: %+v", body, e)
		}
	})
}
