package ratelimit

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/secret"
)

// liveRedis returns a client of the test machine's Redis, or skips.
func liveRedis(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DialTimeout: time.Second})
	if err := c.Ping(t.Context()).Err(); err != nil {
		c.Close()
		t.Skip("no Redis on 127.0.0.1:6379")
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func deadRedis(t *testing.T) *redis.Client {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func newRedis(c redis.UniversalClient, failClosed bool) *Redis {
	return &Redis{Client: c, Prefix: "gatehouse-test:" + secret.NewID("rl") + ":", Fallback: NewLocal(time.Now),
		FailClosed: failClosed, Timeout: 500 * time.Millisecond, Retry: 200 * time.Millisecond}
}

func TestRedisGCRA(t *testing.T) {
	c := liveRedis(t)
	a := newRedis(c, false)
	b := &Redis{Client: c, Prefix: a.Prefix, Fallback: NewLocal(time.Now), Timeout: time.Second, Retry: time.Second}
	l := Limit{Count: 4, Period: time.Hour}
	ctx := t.Context()
	// Two limiters (two replicas) on one Redis draw on one budget.
	for i, want := range []int{3, 2, 1, 0} {
		lim := a
		if i%2 == 1 {
			lim = b
		}
		r, err := lim.Allow(ctx, "k", l)
		if err != nil || !r.Allowed || r.Remaining != want {
			t.Fatalf("event %d: %+v %v, want allowed with %d left", i+1, r, err, want)
		}
	}
	r, err := b.Allow(ctx, "k", l)
	if err != nil || r.Allowed || r.RetryAfter < 14*time.Minute || r.RetryAfter > 15*time.Minute {
		t.Fatalf("5th event: %+v %v, want refused for about 15m (an hour / 4)", r, err)
	}
	if r, _ := a.Allow(ctx, "other", l); !r.Allowed || r.Remaining != 3 {
		t.Errorf("keys are independent: %+v", r)
	}
	if !a.Healthy() || !b.Healthy() {
		t.Error("healthy limiters report unhealthy")
	}
	// The key expires with its budget: nothing is left behind in Redis.
	ttl, err := c.PTTL(ctx, a.Prefix+"k").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour+time.Second {
		t.Errorf("key TTL %v %v: want at most the period", ttl, err)
	}
}

func TestRedisDownFailsOpenThenRecovers(t *testing.T) {
	live := liveRedis(t)
	lim := newRedis(deadRedis(t), false)
	l := Limit{Count: 2, Period: time.Hour}
	ctx := t.Context()
	for i := range 2 {
		if r, err := lim.Allow(ctx, "k", l); err != nil || !r.Allowed {
			t.Fatalf("event %d with Redis down, fail-open: %+v %v", i+1, r, err)
		}
	}
	// The fallback enforces the same budget, per replica.
	if r, _ := lim.Allow(ctx, "k", l); r.Allowed {
		t.Error("the per-replica fallback did not enforce the budget")
	}
	if lim.Healthy() {
		t.Error("Healthy while Redis is down")
	}
	// Redis comes back: after Retry, the next check reaches it.
	lim.Client = live
	deadline := time.Now().Add(5 * time.Second)
	for !lim.Healthy() {
		if time.Now().After(deadline) {
			t.Fatal("never went back to Redis")
		}
		lim.Allow(ctx, "k2", l)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisDownFailsClosed(t *testing.T) {
	lim := newRedis(deadRedis(t), true)
	if _, err := lim.Allow(t.Context(), "k", Limit{Count: 2, Period: time.Hour}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("fail-closed with Redis down: %v, want ErrUnavailable", err)
	}
	// The failure starts a back-off: until it ends, checks skip Redis.
	if until := time.Unix(0, lim.downUntil.Load()); time.Until(until) <= 0 || time.Until(until) > lim.Retry {
		t.Errorf("back-off until %v: want within the next %s", until, lim.Retry)
	}
}

func TestRedisCallerGaveUp(t *testing.T) {
	lim := newRedis(liveRedis(t), true)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := lim.Allow(ctx, "k", Limit{Count: 2, Period: time.Hour}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	if !lim.Healthy() {
		t.Error("a caller giving up is not a Redis outage")
	}
}

// A damaged key (not a number, or far in the future) is read as a fresh
// one rather than failing every check or refusing the caller for years.
func TestRedisDamagedKey(t *testing.T) {
	c := liveRedis(t)
	lim := newRedis(c, true)
	l := Limit{Count: 2, Period: time.Minute}
	for _, v := range []string{"garbage", "99999999999999999"} {
		if err := c.Set(t.Context(), lim.Prefix+"k", v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if r, err := lim.Allow(t.Context(), "k", l); err != nil || !r.Allowed {
			t.Errorf("key holding %q: %+v %v", v, r, err)
		}
		if ttl := c.PTTL(t.Context(), lim.Prefix+"k").Val(); ttl <= 0 {
			t.Errorf("key holding %q left without expiry (%v)", v, ttl)
		}
	}
}
