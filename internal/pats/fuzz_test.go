package pats

import (
	"strings"
	"testing"
	"time"
)

// A token's expiry is typed by its user (self-service API, console).
// Whatever the text and the tenant's rules: an expiry that parses and
// passes is "never" only where the tenant allows that, else an instant
// after now, within the tenant's longest lifetime, that the store's
// microsecond times can hold; and a date means the end of that day, UTC.
func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"7d", "30d", "90d", "never", "2026-04-15", "2026-05-01T12:00:00+02:00", "8d", "Never",
		"2026-13-01", "0000-12-31", "9999-12-31T23:59:59.999999999Z", "2026-06-01T12:00:00Z", "2026-02-29", " 7d"} {
		f.Add(s, false, int64(0))
	}
	f.Add("never", true, int64(0))
	f.Add("90d", false, int64(30*24*time.Hour))
	f.Add("2026-07-01", false, int64(30*24*time.Hour))
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string, forbidNever bool, maxLife int64) {
		e, err := ParseExpiry(s)
		if err != nil {
			return
		}
		if d, err := time.Parse(time.DateOnly, s); err == nil && !e.At.Equal(d.Add(24*time.Hour)) {
			t.Fatalf("%q: expires at %v, not the end of that day", s, e.At)
		}
		if e.Never != (s == "never") || (e.After != 0) != strings.HasSuffix(s, "d") {
			t.Fatalf("%q read as %+v", s, e)
		}
		at, bad := e.resolve(now, forbidNever, time.Duration(maxLife))
		if len(bad) > 0 {
			return
		}
		switch {
		case e.Never:
			if !at.IsZero() || forbidNever || maxLife > 0 {
				t.Fatalf("%q allowed to never expire (forbid %v, max %v): %v", s, forbidNever, time.Duration(maxLife), at)
			}
		case !at.After(now):
			t.Fatalf("%q accepted, expiring at %v, not after now", s, at)
		case maxLife > 0 && at.Sub(now) > time.Duration(maxLife):
			t.Fatalf("%q accepted, living %v, over the tenant's %v", s, at.Sub(now), time.Duration(maxLife))
		case !time.UnixMicro(at.UnixMicro()).Equal(at.Truncate(time.Microsecond)):
			t.Fatalf("%q accepted, expiring at %v, which the store cannot hold", s, at)
		}
	})
}
