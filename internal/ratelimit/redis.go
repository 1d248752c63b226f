package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is GCRA in one Redis round trip. It reads the clock with
// TIME, so every replica sees one clock; times are microseconds.
// KEYS[1] = key; ARGV[1] = emission interval; ARGV[2] = period.
// Returns {allowed, retry_after, reset}.
//
//go:embed gcra.lua
var gcraScript string

var script = redis.NewScript(gcraScript)

// Redis keeps GCRA state in Redis so that replicas share one budget. When
// Redis cannot be reached it falls back to Fallback (per-replica budgets)
// unless FailClosed is set, and reports the outage through Healthy.
type Redis struct {
	Client     redis.UniversalClient
	Prefix     string
	Fallback   *Local
	FailClosed bool
	// Timeout bounds one check so a slow Redis cannot stall requests.
	Timeout time.Duration
	// Retry is how long after a failure checks skip Redis and go straight
	// to the fallback (or fail), so an outage does not cost every request
	// a Timeout; one check then probes Redis again.
	Retry time.Duration

	down      atomic.Bool
	downUntil atomic.Int64 // unix nanos; skip Redis until then
}

// ErrUnavailable is returned (fail-closed) when Redis cannot answer.
var ErrUnavailable = errors.New("ratelimit: Redis unavailable")

// Allow decides one event for key under l.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if l.Zero() {
		return Result{Allowed: true, Remaining: -1}, nil
	}
	if r.down.Load() && time.Now().UnixNano() < r.downUntil.Load() {
		return r.unavailable(ctx, key, l)
	}
	rctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	// Redis keeps whole microseconds; the interval is rounded up so that
	// a budget finer than that is never exceeded.
	interval := (l.interval() + time.Microsecond - 1).Truncate(time.Microsecond)
	v, err := script.Run(rctx, r.Client, []string{r.Prefix + key}, interval.Microseconds(), l.Period.Microseconds()).Int64Slice()
	if err != nil || len(v) != 3 {
		if ctx.Err() != nil {
			return Result{}, ctx.Err() // the caller gave up; Redis may be fine
		}
		r.downUntil.Store(time.Now().Add(r.Retry).UnixNano())
		r.down.Store(true)
		return r.unavailable(ctx, key, l)
	}
	r.down.Store(false)
	reset := time.Duration(v[2]) * time.Microsecond
	res := Result{Allowed: v[0] == 1, RetryAfter: time.Duration(v[1]) * time.Microsecond, Reset: reset}
	if res.Allowed {
		res.Remaining = int((l.Period - reset) / interval)
	}
	return res, nil
}

func (r *Redis) unavailable(ctx context.Context, key string, l Limit) (Result, error) {
	if r.FailClosed {
		return Result{}, ErrUnavailable
	}
	return r.Fallback.Allow(ctx, key, l)
}

// Healthy reports whether the last check reached Redis.
func (r *Redis) Healthy() bool { return !r.down.Load() }
