package cache

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestFreshStaleAndFailures(t *testing.T) {
	now := t0
	c := New[string, int](10, 10, func() time.Time { return now })
	boom := errors.New("boom")
	c.Put("a", 1, t0.Add(time.Second))
	c.Fail("b", boom, t0.Add(time.Second))

	if v, err, ok := c.Get("a", t0); !ok || err != nil || v != 1 {
		t.Fatalf("Get(a) = %v, %v, %v; want 1, nil, true", v, err, ok)
	}
	if _, err, ok := c.Get("b", t0); !ok || err != boom {
		t.Fatalf("Get(b) = %v, %v; want boom, true", err, ok)
	}
	if _, _, ok := c.Get("missing", t0); ok {
		t.Fatal("Get(missing) is ok")
	}
	// At the deadline the entry is stale: Get misses, Stale still has it.
	if _, _, ok := c.Get("a", t0.Add(time.Second)); ok {
		t.Fatal("Get(a) at its deadline is ok; want stale")
	}
	if v, until, ok := c.Stale("a"); !ok || v != 1 || !until.Equal(t0.Add(time.Second)) {
		t.Fatalf("Stale(a) = %v, %v, %v", v, until, ok)
	}
	if _, _, ok := c.Stale("b"); ok {
		t.Fatal("Stale(b) returns a failure")
	}
	// A newer answer replaces the other kind.
	c.Put("b", 2, t0.Add(time.Minute))
	if v, err, ok := c.Get("b", t0); !ok || err != nil || v != 2 {
		t.Fatalf("Get(b) after Put = %v, %v, %v", v, err, ok)
	}
	c.Fail("a", boom, t0.Add(time.Minute))
	if _, _, ok := c.Stale("a"); ok {
		t.Fatal("a failure left the good entry behind")
	}
	c.Delete("b")
	if _, _, ok := c.Get("b", t0); ok {
		t.Fatal("Delete kept b")
	}
	c.Clear()
	if g, b := c.Len(); g+b != 0 {
		t.Fatalf("Len after Clear = %d, %d", g, b)
	}
}

// Failures, which anyone can cause, never evict good entries.
func TestFailuresCannotEvictGoodEntries(t *testing.T) {
	c := New[string, int](100, 10, func() time.Time { return t0 })
	for i := range 100 {
		c.Put(fmt.Sprint("good", i), i, t0.Add(time.Hour))
	}
	for i := range 10_000 {
		c.Fail(fmt.Sprint("junk", i), errors.New("no"), t0.Add(time.Hour))
	}
	good, bad := c.Len()
	if good != 100 {
		t.Fatalf("good entries = %d after a flood of failures; want all 100", good)
	}
	if bad > 10 {
		t.Fatalf("failures = %d; want at most 10", bad)
	}
}

// A full cache makes room from stale entries first.
func TestEvictsStaleFirst(t *testing.T) {
	now := t0
	c := New[int, int](10, 1, func() time.Time { return now })
	for i := range 5 {
		c.Put(i, i, t0.Add(time.Second)) // stale soon
	}
	for i := 5; i < 10; i++ {
		c.Put(i, i, t0.Add(time.Hour))
	}
	now = t0.Add(2 * time.Second)
	c.Put(10, 10, t0.Add(time.Hour))
	for i := 5; i <= 10; i++ {
		if _, _, ok := c.Get(i, now); !ok {
			t.Errorf("live entry %d was evicted while stale ones were there", i)
		}
	}
	if g, _ := c.Len(); g != 6 {
		t.Errorf("good entries = %d; want the 6 live ones", g)
	}
}

func TestBounded(t *testing.T) {
	c := New[int, int](1000, 1, func() time.Time { return t0 })
	for i := range 100_000 {
		c.Put(i, i, t0.Add(time.Hour))
		if g, _ := c.Len(); g > 1000 {
			t.Fatalf("after %d inserts the cache holds %d > 1000", i+1, g)
		}
	}
}

func TestConcurrent(t *testing.T) {
	c := New[int, int](500, 50, time.Now)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (i * (w + 1)) % 700
				switch i % 4 {
				case 0:
					c.Put(k, i, time.Now().Add(time.Minute))
				case 1:
					c.Fail(k, errors.New("x"), time.Now().Add(time.Minute))
				case 2:
					c.Get(k, time.Now())
				default:
					c.Delete(k)
				}
			}
		}()
	}
	wg.Wait()
}
