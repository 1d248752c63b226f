package problem

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

type teapot struct{}

func (teapot) Error() string { return "x" }
func (teapot) Class() Class  { return Class{Status: 418, Code: "teapot"} }

func TestClassify(t *testing.T) {
	notFound := New(KindNotFound, "store: not found", "no such object")
	unavailable := New(KindUnavailable, "store: unavailable", "the database is away")
	for _, c := range []struct {
		name       string
		err        error
		status     int
		code, desc string
		problems   int
		retry      time.Duration
		challenge  string
		logged     slog.Level
	}{
		{"no behaviour: ours", errors.New("db: boom"), 500, CodeServer, "internal error", 0, 0, "", slog.LevelError},
		{"unavailable, wrapped", fmt.Errorf("read client: %w", unavailable), 503, CodeUnavailable, "the database is away", 0, time.Second, "", slog.LevelWarn},
		{"invalid", &Invalid{What: "client", Problems: []string{"a", "b"}}, 400, CodeInvalidRequest, "invalid client", 2, 0, "", 0},
		{"invalid, wrapped", fmt.Errorf("x: %w", &Invalid{What: "user", Problems: []string{"a"}}), 400, CodeInvalidRequest, "invalid user", 1, 0, "", 0},
		{"not found: public text", notFound, 404, CodeNotFound, "no such object", 0, 0, "", 0},
		{"not found, wrapped with a reason", fmt.Errorf("no such tenant acme: %w", notFound), 404, CodeNotFound, "no such tenant acme: store: not found", 0, 0, "", 0},
		{"conflict", New(KindConflict, "users: taken", ""), 409, CodeConflict, "taken", 0, 0, "", 0},
		{"limited", New(KindLimited, "store: limit reached", "at most 10"), 409, CodeLimit, "at most 10", 0, 0, "", 0},
		{"forbidden", New(KindForbidden, "pats: no access", ""), 403, CodeForbidden, "no access", 0, 0, "", 0},
		{"unauthenticated", New(KindUnauthenticated, "the access token expired", ""), 401, CodeInvalidToken, "the access token expired", 0, 0, "Bearer", 0},
		{"classed by itself", fmt.Errorf("w: %w", teapot{}), 418, "teapot", "", 0, 0, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Classify(c.err)
			if got.Status != c.status || got.Code != c.code || got.Description != c.desc || len(got.Problems) != c.problems ||
				got.RetryAfter != c.retry || got.Challenge != c.challenge || got.Log != c.logged || got.Cause == nil {
				t.Errorf("Classify = %+v", got)
			}
		})
	}
}

// A sentinel is a comparable value: errors.Is holds through wrapping, and
// two sentinels of the same text are still different errors.
func TestSentinels(t *testing.T) {
	a, b := New(KindConflict, "same", ""), New(KindNotFound, "same", "")
	if !errors.Is(fmt.Errorf("w: %w", a), a) || errors.Is(a, b) {
		t.Fatal("sentinels do not compare as values")
	}
	if NewInvalid("x", nil) != nil || NewInvalid("x", []string{"p"}) == nil {
		t.Fatal("NewInvalid")
	}
	if http.StatusText(Classify(a).Status) == "" {
		t.Fatal("a status without a text")
	}
}
