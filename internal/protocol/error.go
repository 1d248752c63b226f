package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/problem"
)

// Error is an OAuth 2.0 error response (RFC 6749 §5.2, RFC 6750 §3.1), and
// the answer to any error (problem.Class, which AsError turns into one).
// Values are never mutated once built; the With methods return copies.
type Error struct {
	Code        string
	Description string
	Status      int
	// Challenge, when set, is the scheme of the WWW-Authenticate header
	// sent with the error ("Basic" for a client that used Basic auth,
	// "Bearer" on protected resources).
	Challenge string
	// RetryAfter, when positive, is sent as an integer Retry-After header.
	RetryAfter time.Duration
	// Problems list what is invalid (the admin API sends them).
	Problems []string
	// Cause is the error this answers, for logs and errors.Is/As; never
	// sent.
	Cause error
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is holds for another *Error of the same code and status: a template such
// as ErrInvalidGrant matches every description made from it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Status == e.Status
}

// Class is the error's own answer (problem.Classify reads it).
func (e *Error) Class() problem.Class {
	return problem.Class{Status: e.Status, Code: e.Code, Description: e.Description, Problems: e.Problems,
		RetryAfter: e.RetryAfter, Challenge: e.Challenge, Cause: e.Cause}
}

// WithCause returns a copy that answers cause.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// WithDescription returns a copy with a human-readable description.
func (e *Error) WithDescription(d string) *Error {
	c := *e
	c.Description = d
	return &c
}

// WithChallenge returns a copy that asks for the given auth scheme.
func (e *Error) WithChallenge(scheme string) *Error {
	c := *e
	c.Challenge = scheme
	return &c
}

// WithRetryAfter returns a copy carrying a Retry-After delay.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

func newErr(code string, status int) *Error { return &Error{Code: code, Status: status} }

// RFC 6749 §5.2 error codes, plus RFC 8707, RFC 7009 and RFC 6750 ones.
// These are templates: use WithDescription to get a value to return.
var (
	ErrInvalidRequest       = newErr("invalid_request", http.StatusBadRequest)
	ErrInvalidClient        = newErr("invalid_client", http.StatusUnauthorized)
	ErrInvalidGrant         = newErr("invalid_grant", http.StatusBadRequest)
	ErrUnauthorizedClient   = newErr("unauthorized_client", http.StatusBadRequest)
	ErrUnsupportedGrantType = newErr("unsupported_grant_type", http.StatusBadRequest)
	ErrInvalidScope         = newErr("invalid_scope", http.StatusBadRequest)
	ErrInvalidTarget        = newErr("invalid_target", http.StatusBadRequest)         // RFC 8707 §2
	ErrUnsupportedTokenType = newErr("unsupported_token_type", http.StatusBadRequest) // RFC 7009 §2.2.1
	ErrInvalidToken         = newErr("invalid_token", http.StatusUnauthorized)        // RFC 6750 §3.1
	ErrInsufficientScope    = newErr("insufficient_scope", http.StatusForbidden)      // RFC 6750 §3.1
	ErrTooManyRequests      = newErr("too_many_requests", http.StatusTooManyRequests)
	ErrRequestTooLarge      = newErr("invalid_request", http.StatusRequestEntityTooLarge)
	ErrUnsupportedMediaType = newErr("invalid_request", http.StatusUnsupportedMediaType)
	ErrMethodNotAllowed     = newErr("invalid_request", http.StatusMethodNotAllowed)
	ErrNotFound             = newErr("not_found", http.StatusNotFound)
	ErrServer               = newErr("server_error", http.StatusInternalServerError)
	ErrUnavailable          = newErr("temporarily_unavailable", http.StatusServiceUnavailable)
)

// AsError returns err as a protocol error, classified by problem.Classify
// (a dependency away is 503 with Retry-After, a validation error 400 with
// its problems, …). Anything with no behaviour becomes server_error: its
// detail is logged and never sent (RFC 6749 §5.2 leaves no room for
// internals in a response).
func AsError(err error, log *slog.Logger) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	c := problem.Classify(err)
	c.Logf(log, "request failed")
	return &Error{Code: c.Code, Description: c.Description, Status: c.Status, Challenge: c.Challenge,
		RetryAfter: c.RetryAfter, Problems: c.Problems, Cause: err}
}

// WriteError renders err as an RFC 6749 §5.2 JSON error response.
func WriteError(w http.ResponseWriter, err error, log *slog.Logger) {
	e := AsError(err, log)
	h := w.Header()
	if e.Challenge != "" {
		h.Set("WWW-Authenticate", Challenge(e.Challenge, "", e))
	}
	SetRetryAfter(w, e.RetryAfter)
	body := struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description,omitempty"`
	}{e.Code, quote(e.Description)} // RFC 6749 §5.2: printable ASCII but " and \
	WriteJSON(w, e.Status, body)
}

// BearerError is the RFC 6750 §3.1 answer to a credential a protected
// resource refused: invalid_token (401) or insufficient_scope (403), with
// the Bearer challenge; any other error (the credential could not be
// checked) keeps its own class.
func BearerError(err error) error {
	switch c := problem.Classify(err); c.Status {
	case http.StatusUnauthorized:
		return ErrInvalidToken.WithDescription(c.Description).WithChallenge("Bearer").WithCause(err)
	case http.StatusForbidden:
		return ErrInsufficientScope.WithDescription(c.Description).WithChallenge("Bearer").WithCause(err)
	}
	return err
}

// SetRetryAfter sets Retry-After to d in whole seconds, rounded up (a
// client that waits that long may pass); nothing when d is not positive.
func SetRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// Challenge renders a WWW-Authenticate value (RFC 6750 §3 for Bearer,
// RFC 7617 for Basic). realm may be empty.
func Challenge(scheme, realm string, e *Error) string {
	var parts []string
	if realm == "" && scheme == "Basic" {
		realm = "gatehouse"
	}
	if realm != "" {
		parts = append(parts, `realm="`+quote(realm)+`"`)
	}
	// RFC 6750 §3: only its own codes go into a Bearer challenge, and a
	// request with no credentials at all gets none (pass a nil error, or one
	// whose code is not an RFC 6750 code).
	if scheme == "Bearer" && e != nil && bearerCodes[e.Code] {
		parts = append(parts, `error="`+e.Code+`"`)
		if e.Description != "" {
			parts = append(parts, `error_description="`+quote(e.Description)+`"`)
		}
	}
	if len(parts) == 0 {
		return scheme
	}
	return scheme + " " + strings.Join(parts, ", ")
}

var bearerCodes = map[string]bool{"invalid_request": true, "invalid_token": true, "insufficient_scope": true}

// quote keeps a value inside an RFC 7230 quoted-string and, stricter, in
// the characters RFC 6750 §3 allows in error_description and scope
// (%x20-21 / %x23-5B / %x5D-7E): quotes, backslashes and control
// characters become ', anything beyond ASCII ?.
func quote(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"' || r == '\\' || r < 0x20 || r == 0x7f:
			return '\''
		case r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// WriteJSON writes v as JSON with the given status and no-store caching, as
// RFC 6749 §5.1 requires for token responses and is right for every OAuth
// and admin response. v is encoded before anything is sent: a value that
// cannot be encoded is a 500 (logged by the caller's recovery of the
// returned error), never a half-written answer with the status promised.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		err = fmt.Errorf("protocol: encode a %d answer: %w", status, err)
		writeRaw(w, http.StatusInternalServerError, []byte(`{"error":"server_error","error_description":"internal error"}`+"\n"))
		return err
	}
	writeRaw(w, status, buf.Bytes())
	return nil
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client went away
}
