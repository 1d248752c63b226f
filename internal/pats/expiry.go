package pats

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/protocol"
)

// Expiry is a requested token lifetime: a preset, a date, or never.
type Expiry struct {
	// Never, when set, asks for a token that does not expire.
	Never bool
	// After is a preset lifetime (7, 30 or 90 days); At a chosen instant.
	After time.Duration
	At    time.Time
}

// Presets are the lifetimes offered by name.
var Presets = map[string]time.Duration{"7d": 7 * day, "30d": 30 * day, "90d": 90 * day}

const day = 24 * time.Hour

// ParseExpiry reads the wire form: "7d", "30d", "90d", "never", a date
// (YYYY-MM-DD: the token works through that day, UTC) or an RFC 3339 instant.
func ParseExpiry(s string) (Expiry, error) {
	if s == "never" {
		return Expiry{Never: true}, nil
	}
	if d, ok := Presets[s]; ok {
		return Expiry{After: d}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return Expiry{At: protocol.Earlier(t.Add(day), protocol.MaxTime)}, nil // through that day
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return Expiry{At: t.UTC()}, nil
	}
	return Expiry{}, fmt.Errorf(`expiry must be "7d", "30d", "90d", "never", a date (YYYY-MM-DD) or an RFC 3339 time`)
}

// resolve returns the expiry instant (zero for never) of e for a token
// created at now, within the tenant's rules.
func (e Expiry) resolve(now time.Time, forbidNever bool, maxLife time.Duration) (time.Time, []string) {
	var bad []string
	var at time.Time
	switch {
	case e.Never:
		if forbidNever || maxLife > 0 {
			bad = append(bad, "this tenant does not allow tokens that never expire")
		}
		return time.Time{}, bad
	case e.After > 0:
		at = now.Add(e.After)
	case !e.At.IsZero():
		at = e.At.UTC()
		if !at.After(now) {
			bad = append(bad, "the expiry date must be in the future")
		}
	default:
		return time.Time{}, []string{"an expiry is required: 7d, 30d, 90d, a date, or never"}
	}
	if maxLife > 0 && at.Sub(now) > maxLife {
		bad = append(bad, fmt.Sprintf("this tenant allows tokens to live at most %s", days(maxLife)))
	}
	if at.After(protocol.MaxTime) {
		bad = append(bad, "the expiry must be no later than 9999-12-31")
	}
	return at, bad
}

func days(d time.Duration) string {
	if d%day == 0 {
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
