package sdk

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// testClock is a fake Clock: time moves only by Advance, which fires the
// timers it passes.
type testClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []testTimer
}

type testTimer struct {
	at time.Time
	ch chan time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, testTimer{c.now.Add(d), ch})
	return ch
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
		} else {
			t.ch <- c.now
		}
	}
	c.timers = kept
}

// waiting is how many timers are pending.
func (c *testClock) waiting() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.timers) }

// countingFetch hands out tokens "t1", "t2", … living ttl, counting fetches;
// each waits for release when it is set.
type countingFetch struct {
	clock   *testClock
	ttl     time.Duration
	n       atomic.Int32
	release chan struct{}
	fail    atomic.Bool
}

func (f *countingFetch) fetch(ctx context.Context) (*oauth2.Token, error) {
	n := f.n.Add(1)
	if f.release != nil {
		<-f.release
	}
	if f.fail.Load() {
		return nil, errors.New("token endpoint down")
	}
	return &oauth2.Token{AccessToken: "t" + string(rune('0'+n)), Expiry: f.clock.Now().Add(f.ttl)}, nil
}

// A hundred goroutines asking at once make one token request, and all get
// its token.
func TestOneFetchForManyCallers(t *testing.T) {
	clk := newTestClock()
	f := &countingFetch{clock: clk, ttl: time.Hour, release: make(chan struct{})}
	c := &cache{fetch: f.fetch, clock: clk, lead: time.Minute}
	var wg sync.WaitGroup
	got := make([]string, 100)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.token(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = tok.AccessToken
		}()
	}
	for f.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(f.release)
	wg.Wait()
	if n := f.n.Load(); n != 1 {
		t.Fatalf("%d token requests for 100 concurrent callers, want 1", n)
	}
	for i, g := range got {
		if g != "t1" {
			t.Fatalf("caller %d got %q", i, g)
		}
	}
}

// A token is reused until its renewal time, renewed in the background
// while it is still good (callers keep getting it meanwhile), and a
// caller holding on past expiry waits for the new one.
func TestRenewalBeforeExpiry(t *testing.T) {
	clk := newTestClock()
	f := &countingFetch{clock: clk, ttl: time.Hour}
	c := &cache{fetch: f.fetch, clock: clk, lead: time.Minute, jitter: 30 * time.Second}
	ctx := context.Background()
	first, _ := c.token(ctx)
	for range 10 {
		clk.Advance(5 * time.Minute) // up to 50 minutes in
		if tok, _ := c.token(ctx); tok.AccessToken != "t1" {
			t.Fatalf("renewed at %v, long before expiry", clk.Now())
		}
	}
	clk.Advance(9 * time.Minute) // 59 minutes: within the lead (1 m to 1 m 30 s)
	if tok, _ := c.token(ctx); tok.AccessToken != "t1" {
		t.Fatalf("during a background renewal the current token is still handed out, got %q", tok.AccessToken)
	}
	for c.cur.Load().tok == first {
		time.Sleep(time.Millisecond) // the background renewal lands
	}
	if tok, _ := c.token(ctx); tok.AccessToken != "t2" || f.n.Load() != 2 {
		t.Fatalf("after the renewal: %q, %d fetches", tok.AccessToken, f.n.Load())
	}
}

// The lead never takes more than half of a short-lived token's life.
func TestLeadCappedForShortTokens(t *testing.T) {
	clk := newTestClock()
	c := &cache{clock: clk, lead: time.Minute}
	e := c.entryOf(&oauth2.Token{AccessToken: "x", Expiry: clk.Now().Add(20 * time.Second)})
	if want := clk.Now().Add(10 * time.Second); !e.renewAt.Equal(want) {
		t.Fatalf("renew at %v, want half way (%v)", e.renewAt, want)
	}
	if e := c.entryOf(&oauth2.Token{AccessToken: "y"}); !e.renewAt.IsZero() {
		t.Fatal("a token with no known expiry must be reused until refused")
	}
}

// Invalidate forgets only the token named: a 401 for a token already
// replaced does not throw the new one away.
func TestInvalidate(t *testing.T) {
	clk := newTestClock()
	f := &countingFetch{clock: clk, ttl: time.Hour}
	c := &cache{fetch: f.fetch, clock: clk}
	ctx := context.Background()
	c.token(ctx) //nolint:errcheck
	c.invalidate("t1")
	if tok, _ := c.token(ctx); tok.AccessToken != "t2" {
		t.Fatalf("after invalidating t1: %q", tok.AccessToken)
	}
	c.invalidate("t1") // stale
	if tok, _ := c.token(ctx); tok.AccessToken != "t2" || f.n.Load() != 2 {
		t.Fatalf("a stale invalidation renewed the token: %q after %d fetches", tok.AccessToken, f.n.Load())
	}
}

// A failed background renewal keeps the current token in use and is
// retried after a pause, not on every call; past expiry the error reaches
// the caller.
func TestFailedRenewal(t *testing.T) {
	clk := newTestClock()
	f := &countingFetch{clock: clk, ttl: time.Hour}
	c := &cache{fetch: f.fetch, clock: clk, lead: 10 * time.Minute}
	ctx := context.Background()
	c.token(ctx) //nolint:errcheck
	f.fail.Store(true)
	clk.Advance(55 * time.Minute)
	c.token(ctx) //nolint:errcheck // starts a renewal that fails
	for f.n.Load() != 2 || c.inflightNow() {
		time.Sleep(time.Millisecond)
	}
	for range 20 {
		if tok, err := c.token(ctx); err != nil || tok.AccessToken != "t1" {
			t.Fatalf("while the token is good a failed renewal must not surface: %v, %v", tok, err)
		}
	}
	if n := f.n.Load(); n != 2 {
		t.Fatalf("%d fetches: a failed renewal was retried at once", n)
	}
	clk.Advance(5 * time.Minute) // expired
	if _, err := c.token(ctx); err == nil {
		t.Fatal("an expired token with the endpoint down must be an error")
	}
}

func (c *cache) inflightNow() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.inflight != nil }

// A caller whose context ends stops waiting; the fetch goes on for others.
func TestCallerContext(t *testing.T) {
	clk := newTestClock()
	f := &countingFetch{clock: clk, ttl: time.Hour, release: make(chan struct{})}
	c := &cache{fetch: f.fetch, clock: clk}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.token(ctx); done <- err }()
	for f.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(f.release)
	if tok, err := c.token(context.Background()); err != nil || tok.AccessToken != "t1" || f.n.Load() != 1 {
		t.Fatalf("the fetch started by the cancelled caller should serve the next: %v %v (%d fetches)", tok, err, f.n.Load())
	}
}
