package ratelimit

import (
	"testing"
	"time"
)

func TestGCRABurstThenSteady(t *testing.T) {
	l := Limit{Count: 3, Period: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewLocal(func() time.Time { return t0 })
	for i, want := range []int{2, 1, 0} {
		r := m.allow("k", l, t0)
		if !r.Allowed || r.Remaining != want {
			t.Fatalf("event %d: %+v, want allowed with %d remaining", i, r, want)
		}
	}
	r := m.allow("k", l, t0)
	if r.Allowed || r.RetryAfter != 20*time.Second {
		t.Fatalf("4th event: %+v, want refused, retry after 20s", r)
	}
	// A refused event does not consume budget.
	if r := m.allow("k", l, t0.Add(20*time.Second)); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("after 20s: %+v", r)
	}
	if r := m.allow("other", l, t0); !r.Allowed {
		t.Fatalf("keys are independent: %+v", r)
	}
	// After a whole period the budget is full again.
	if r := m.allow("k", l, t0.Add(2*time.Minute)); !r.Allowed || r.Remaining != 2 {
		t.Fatalf("after the period: %+v", r)
	}
}

func TestGCRAZeroLimitIsOff(t *testing.T) {
	m := NewLocal(time.Now)
	for range 1000 {
		if r, _ := m.Allow(t.Context(), "k", Limit{}); !r.Allowed {
			t.Fatal("a zero limit refused an event")
		}
	}
}
