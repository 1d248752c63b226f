package sdk

import (
	"cmp"
	"context"
	"time"

	"golang.org/x/time/rate"
)

// Budget is a platform's request budgets: so many reads and writes per
// period (Intigriti: 600 reads and 200 writes a minute, Gatehouse's
// default too).
type Budget struct {
	Reads, Writes int
	Per           time.Duration // zero: a minute
}

// Limiter keeps a client's reads and writes within a Budget, holding
// requests back rather than letting the server refuse them. It leaves 5%
// headroom (at least one request) below each budget, for the requests
// network jitter bunches up on the way to the server.
type Limiter struct{ reads, writes *rate.Limiter }

// NewLimiter returns a limiter for b; a zero count does not limit.
func NewLimiter(b Budget) *Limiter {
	per := cmp.Or(b.Per, time.Minute)
	return &Limiter{reads: limiterFor(b.Reads, per), writes: limiterFor(b.Writes, per)}
}

func limiterFor(n int, per time.Duration) *rate.Limiter {
	if n <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	n -= max(n/20, 1)
	if n <= 0 {
		n = 1
	}
	return rate.NewLimiter(rate.Every(per/time.Duration(n)), n)
}

// Wait blocks until a read (or a write) may go, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, write bool) error {
	if write {
		return l.writes.Wait(ctx)
	}
	return l.reads.Wait(ctx)
}
