// Package problem is the one place an error becomes an answer: Classify
// says what status, machine-readable code, safe description, validation
// problems and Retry-After an error calls for, and whether it is worth an
// operator's attention in the log. Errors say what they are through
// behaviour methods (Unavailable, Invalid, NotFound, Conflict, Forbidden,
// Unauthenticated, Limited), as store.ErrUnavailable did first, so a
// domain package never imports an HTTP one and no surface keeps a switch
// of its own. Each surface only chooses the body: OAuth JSON, the admin
// API's Error, an HTML page, the gateway's RFC 6750 answer.
package problem

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Class is how to answer an error.
type Class struct {
	Status      int
	Code        string   // machine-readable: invalid_request, not_found, conflict, …
	Description string   // safe to send
	Problems    []string // what is invalid, for invalid_request
	RetryAfter  time.Duration
	// Challenge is the WWW-Authenticate scheme to send ("Bearer",
	// "Basic"), when the answer asks for credentials.
	Challenge string
	// Log is the level to log the error at: Error for a fault of ours, Warn
	// for a dependency that is away; zero (Info) or lower is not logged, as
	// for every answer that is the caller's doing.
	Log slog.Level
	// Cause is the error classified, for the log.
	Cause error
}

// Behaviours an error may have. Each is asked through errors.As, so a
// wrapped error keeps its meaning.
type (
	// Unavailable: a dependency (the store, Redis) could not be reached:
	// 503 with Retry-After; the request may succeed if retried.
	unavailable interface{ Unavailable() bool }
	// Invalid: the request cannot be carried out as asked; what is the
	// thing, problems what is wrong with it (400 invalid_request).
	invalid interface {
		Invalid() (what string, problems []string)
	}
	notFound        interface{ NotFound() bool }
	conflict        interface{ Conflict() bool }
	forbidden       interface{ Forbidden() bool }
	unauthenticated interface{ Unauthenticated() bool }
	// Limited: a cap was reached (409 limit_reached).
	limited interface{ Limited() bool }
	// classed: an error that knows its whole answer (protocol.Error).
	classed interface{ Class() Class }
	// public: the description an error gives to callers when its Error()
	// text is an internal one ("store: …").
	public interface{ Public() string }
)

// Codes of the answers Classify gives.
const (
	CodeInvalidRequest = "invalid_request"
	CodeNotFound       = "not_found"
	CodeConflict       = "conflict"
	CodeForbidden      = "forbidden"
	CodeLimit          = "limit_reached"
	CodeInvalidToken   = "invalid_token"
	CodeUnavailable    = "temporarily_unavailable"
	CodeServer         = "server_error"
)

// Classify says how to answer err. An error with no behaviour is a fault
// of ours: 500 server_error, logged at Error, its text never sent.
func Classify(err error) Class {
	var (
		cl  classed
		un  unavailable
		inv invalid
		nf  notFound
		co  conflict
		fb  forbidden
		ua  unauthenticated
		li  limited
	)
	switch {
	case errors.As(err, &cl):
		c := cl.Class()
		c.Cause = err
		return c
	case errors.As(err, &un) && un.Unavailable():
		return Class{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Log: slog.LevelWarn, Cause: err,
			Description: publicOf(err, "a service Gatehouse depends on cannot be reached; retry shortly"), RetryAfter: time.Second}
	case errors.As(err, &inv):
		what, problems := inv.Invalid()
		return Class{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "invalid " + what, Problems: problems, Cause: err}
	case errors.As(err, &li) && li.Limited():
		return Class{Status: http.StatusConflict, Code: CodeLimit, Description: describe(err), Cause: err}
	case errors.As(err, &nf) && nf.NotFound():
		return Class{Status: http.StatusNotFound, Code: CodeNotFound, Description: describe(err), Cause: err}
	case errors.As(err, &co) && co.Conflict():
		return Class{Status: http.StatusConflict, Code: CodeConflict, Description: describe(err), Cause: err}
	case errors.As(err, &fb) && fb.Forbidden():
		return Class{Status: http.StatusForbidden, Code: CodeForbidden, Description: describe(err), Cause: err}
	case errors.As(err, &ua) && ua.Unauthenticated():
		return Class{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: describe(err), Challenge: "Bearer", Cause: err}
	}
	return Class{Status: http.StatusInternalServerError, Code: CodeServer, Description: "internal error", Log: slog.LevelError, Cause: err}
}

// describe is what a caller may read of err: its own Public text, else its
// Error text without a package's "name: " prefix (a wrapping error adds
// its reason in front of what it wraps).
func describe(err error) string {
	if p, ok := err.(public); ok {
		return p.Public()
	}
	return describeText(err.Error())
}

// publicOf is the Public text of the first error in err's chain that has
// one, else def: for an error whose wrapped text is internal.
func publicOf(err error, def string) string {
	var p public
	if errors.As(err, &p) {
		return p.Public()
	}
	return def
}

// Logf logs what c calls for (nothing for an answer that is not a fault).
func (c Class) Logf(log *slog.Logger, msg string, args ...any) {
	if log == nil || c.Log <= slog.LevelInfo {
		return
	}
	log.Log(context.Background(), c.Log, msg, append(args, "status", c.Status, "err", c.Cause)...)
}
