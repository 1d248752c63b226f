package sdk

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OAuthError is an error response of a token, login or refresh endpoint
// (RFC 6749 §5.2), or of a protected resource (RFC 6750 §3.1). Compare
// Code, never the message.
type OAuthError struct {
	StatusCode  int
	Code        string // "invalid_client", "invalid_grant", "refresh_too_early", …
	Description string
	URI         string
	// RetryAfter is the wait the server asked for (Retry-After, or the
	// body's retry_after for refresh_too_early); zero when it named none.
	RetryAfter time.Duration
}

func (e *OAuthError) Error() string {
	msg := fmt.Sprintf("sdk: %s (HTTP %d)", e.Code, e.StatusCode)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Error codes the SDK acts on, beyond RFC 6749's.
const (
	// CodeRefreshTooEarly: the access token is still good; refresh later.
	CodeRefreshTooEarly = "refresh_too_early"
	// CodeSessionExpired: the API-key session reached its lifetime.
	CodeSessionExpired = "session_expired"
	// CodeInvalidGrant: the refresh token is unknown, used or ended.
	CodeInvalidGrant = "invalid_grant"
)

// RateLimitError is returned by Transport for a 429 it did not wait out:
// it was told to fail fast, the caller's context ends sooner than the
// wait, or the request's body cannot be sent again.
type RateLimitError struct {
	RetryAfter time.Duration
	Response   *http.Response // the 429, its body closed
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("sdk: rate limited; retry after %s", e.RetryAfter)
}

// maxErrorBody caps how much of an error response is read.
const maxErrorBody = 64 << 10

// errorFrom reads a non-2xx response into an *OAuthError. A body that is
// not an RFC 6749 error object still yields one, with the status as code.
func errorFrom(resp *http.Response) *OAuthError {
	e := &OAuthError{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var body struct {
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
		ErrorURI         string          `json:"error_uri"`
		RetryAfter       json.RawMessage `json:"retry_after"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		e.Code, e.Description, e.URI = body.Error, body.ErrorDescription, body.ErrorURI
		if n, err := strconv.ParseFloat(string(body.RetryAfter), 64); err == nil && n > 0 && e.RetryAfter == 0 {
			e.RetryAfter = time.Duration(min(n, maxRetryAfter) * float64(time.Second))
		}
		return e
	}
	if c := bearerError(resp.Header.Get("WWW-Authenticate")); c != "" {
		e.Code = c
		return e
	}
	e.Code = strings.ReplaceAll(strings.ToLower(http.StatusText(resp.StatusCode)), " ", "_")
	if e.Code == "" {
		e.Code = "http_" + strconv.Itoa(resp.StatusCode)
	}
	e.Description = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	return e
}

// bearerError is the error parameter of a Bearer challenge, or "".
func bearerError(challenge string) string {
	_, params, ok := strings.Cut(challenge, "error=\"")
	if !ok {
		return ""
	}
	code, _, _ := strings.Cut(params, "\"")
	return code
}

// maxRetryAfter caps a server's wait, in seconds, so that it converts to a
// Duration without overflowing (68 years: "not soon").
const maxRetryAfter = 1 << 31

// retryAfter parses Retry-After: delay-seconds or an HTTP date (RFC 9110
// §10.2.3); zero when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, maxRetryAfter)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
