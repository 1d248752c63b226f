// Package ratelimit owns rate limiting: GCRA (the generic cell rate
// algorithm) as a pure function of the stored state and the current time,
// and limiters that keep that state per key.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Limit allows Count events per Period, all of which may come at once.
type Limit struct {
	Count  int
	Period time.Duration
}

// Zero reports whether the limit is off.
func (l Limit) Zero() bool { return l.Count <= 0 || l.Period <= 0 }

// interval is the emission interval, never below 1ns (a Count larger than
// Period in nanoseconds would otherwise divide by zero).
func (l Limit) interval() time.Duration { return max(l.Period/time.Duration(l.Count), 1) }

// Result is the outcome of one check.
type Result struct {
	Allowed    bool
	Remaining  int           // events still allowed right now
	RetryAfter time.Duration // when not allowed: until the next one is
	Reset      time.Duration // until the budget is whole again
}

// GCRA decides one event. tat is the key's theoretical arrival time (zero
// for a new key); it returns the new tat to store and the result. It is a
// pure function: time is an argument.
func GCRA(tat, now time.Time, l Limit) (time.Time, Result) {
	interval := l.interval()
	burst := l.Period - interval // tolerance: Count-1 events early
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	allowAt := next.Add(-l.Period)
	if now.Before(allowAt) {
		return tat, Result{
			RetryAfter: allowAt.Sub(now),
			Reset:      tat.Sub(now),
			Remaining:  0,
		}
	}
	remaining := int((burst - next.Sub(now) + interval) / interval)
	if remaining < 0 {
		remaining = 0
	}
	return next, Result{Allowed: true, Remaining: remaining, Reset: next.Sub(now)}
}

// Local keeps GCRA state in process memory, for a single replica.
type Local struct {
	Now func() time.Time

	mu        sync.Mutex
	state     map[string]time.Time
	nextSweep int // sweep when state grows past this
}

// minSweep is the size below which Local never sweeps.
const minSweep = 100_000

// NewLocal returns an empty in-process limiter.
func NewLocal(now func() time.Time) *Local {
	return &Local{Now: now, state: map[string]time.Time{}}
}

// Limiter decides whether an event may happen now.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

var (
	_ Limiter = (*Local)(nil)
	_ Limiter = (*Redis)(nil)
)

// Allow decides one event for key under l.
func (m *Local) Allow(_ context.Context, key string, l Limit) (Result, error) {
	return m.allow(key, l, m.Now()), nil
}

func (m *Local) allow(key string, l Limit, now time.Time) Result {
	if l.Zero() {
		return Result{Allowed: true, Remaining: -1}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tat, res := GCRA(m.state[key], now, l)
	m.state[key] = tat
	if len(m.state) > max(m.nextSweep, minSweep) {
		m.sweep(now)
		// However many keys are live, the next sweep waits for as many
		// again: a sweep costs O(n) once per n insertions at most.
		m.nextSweep = 2 * len(m.state)
	}
	return res
}

// sweep drops keys whose budget is whole again; they carry no state.
func (m *Local) sweep(now time.Time) {
	for k, tat := range m.state {
		if !tat.After(now) {
			delete(m.state, k)
		}
	}
}
