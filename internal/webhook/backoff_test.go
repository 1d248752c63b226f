package webhook

import (
	"testing"
	"time"
)

// The schedule: 30 s doubling to an hour, each wait within ±25%.
func TestBackoff(t *testing.T) {
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour, time.Hour, time.Hour}
	for i, w := range want {
		attempt := i + 1
		lo, mid, hi := backoff(attempt, 0), backoff(attempt, 0.5), backoff(attempt, 0.999999)
		if lo != w*3/4 || mid != w || hi < w*5/4-w/1000 || hi >= w*5/4 {
			t.Errorf("attempt %d: waits %s..%s..%s, want %s ± 25%%", attempt, lo, mid, hi, w)
		}
	}
	if d := backoff(1000, 0.5); d != time.Hour {
		t.Errorf("attempt 1000 waits %s", d)
	}
}
