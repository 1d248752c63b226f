package problem

import "strings"

// Invalid lists what is wrong with a thing a request asked for; it is
// every domain's validation error (400 invalid_request with the problems).
type Invalid struct {
	What     string // "client", "tenant", "user", "token request", …
	Problems []string
}

func (e *Invalid) Error() string { return "invalid " + e.What + ": " + strings.Join(e.Problems, "; ") }

// Invalid implements the behaviour Classify reads.
func (e *Invalid) Invalid() (string, []string) { return e.What, e.Problems }

// NewInvalid is an *Invalid, or nil when there are no problems.
func NewInvalid(what string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return &Invalid{What: what, Problems: problems}
}

// Kind is a behaviour a sentinel error has.
type Kind int

// The kinds.
const (
	KindNotFound Kind = iota + 1
	KindConflict
	KindForbidden
	KindLimited
	KindUnavailable
	KindUnauthenticated
)

// Sentinel is a comparable error value with one behaviour and a public
// description: declare sentinels with New and compare with errors.Is.
type Sentinel struct {
	msg, public string
	kind        Kind
}

// New makes a sentinel: msg is its Error text (for logs and errors.Is
// readers), public what a caller is told (msg when empty).
func New(kind Kind, msg, public string) Sentinel {
	return Sentinel{msg: msg, public: public, kind: kind}
}

func (s Sentinel) Error() string { return s.msg }

// Public is the description a caller is told.
func (s Sentinel) Public() string {
	if s.public != "" {
		return s.public
	}
	return describeText(s.msg)
}

func (s Sentinel) NotFound() bool        { return s.kind == KindNotFound }
func (s Sentinel) Conflict() bool        { return s.kind == KindConflict }
func (s Sentinel) Forbidden() bool       { return s.kind == KindForbidden }
func (s Sentinel) Limited() bool         { return s.kind == KindLimited }
func (s Sentinel) Unavailable() bool     { return s.kind == KindUnavailable }
func (s Sentinel) Unauthenticated() bool { return s.kind == KindUnauthenticated }

// describeText drops a package's "name: " prefix from an error text.
func describeText(msg string) string {
	if i := strings.Index(msg, ": "); i > 0 && !strings.ContainsAny(msg[:i], " ") {
		return msg[i+2:]
	}
	return msg
}
