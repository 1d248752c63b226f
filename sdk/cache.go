package sdk

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// TokenSource gives the token to send. Every source of this package
// implements it; Transport takes any.
type TokenSource interface {
	// Token returns a usable token, fetching or renewing it if it must.
	Token(ctx context.Context) (*oauth2.Token, error)
	// Invalidate says the server refused accessToken (401): the next
	// Token renews it if the source can. Other tokens are not affected.
	Invalidate(accessToken string)
}

// Clock is the time a source and Transport go by; tests pass a fake.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on clock, or until ctx ends.
func sleep(ctx context.Context, clock Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// entry is a cached token with its header value made once.
type entry struct {
	tok     *oauth2.Token
	bearer  string    // "Bearer <access token>"
	renewAt time.Time // zero: no known expiry, reuse until refused
}

// flight is one renewal; its waiters read e and err after done closes.
type flight struct {
	done chan struct{}
	e    *entry
	err  error
}

// cache holds one token and renews it with at most one fetch in flight.
// Early renewal (lead > 0) starts in the background while the current
// token is still good, so callers are not held up; a token past its
// expiry (or refused) waits for the renewal.
type cache struct {
	fetch func(ctx context.Context) (*oauth2.Token, error)
	clock Clock
	// lead and jitter: renewal starts lead plus up to jitter before
	// expiry, never earlier than half way through the token's life.
	// Zero: only once the token has expired.
	lead, jitter time.Duration

	cur atomic.Pointer[entry]

	mu       sync.Mutex
	inflight *flight
	failedAt time.Time // the last background renewal that failed
}

// retryPause is how long a failed background renewal waits before the
// next, while the current token is still good.
const retryPause = 5 * time.Second

// get returns a usable entry.
func (c *cache) get(ctx context.Context) (*entry, error) {
	e := c.cur.Load()
	now := c.clock.Now()
	if e != nil && (e.renewAt.IsZero() || now.Before(e.renewAt)) {
		return e, nil // the fast path: no lock, no allocation
	}
	c.mu.Lock()
	if c.cur.Load() != e {
		// A renewal landed (or the token was refused) since we looked: a
		// fetch now would be a second one, and for a session a refresh
		// made with a refresh token younger than its access token.
		c.mu.Unlock()
		return c.get(ctx)
	}
	f := c.inflight
	if e != nil && e.tok.Expiry.After(now) {
		if f == nil && now.Sub(c.failedAt) >= retryPause {
			c.startLocked(ctx)
		}
		c.mu.Unlock()
		return e, nil // still good: renew in the background
	}
	if f == nil {
		f = c.startLocked(ctx)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.e, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startLocked starts a renewal; c.mu is held. The fetch outlives the
// caller that started it (others may be waiting for it) but keeps its
// context's values.
func (c *cache) startLocked(ctx context.Context) *flight {
	f := &flight{done: make(chan struct{})}
	c.inflight = f
	go func() {
		tok, err := c.fetch(context.WithoutCancel(ctx))
		if err == nil {
			f.e = c.entryOf(tok)
			c.cur.Store(f.e)
		}
		f.err = err
		c.mu.Lock()
		c.inflight = nil
		if err != nil {
			c.failedAt = c.clock.Now()
		}
		c.mu.Unlock()
		close(f.done)
	}()
	return f
}

// entryOf caches tok, choosing when to renew it.
func (c *cache) entryOf(tok *oauth2.Token) *entry {
	e := &entry{tok: tok, bearer: "Bearer " + tok.AccessToken}
	if tok.Expiry.IsZero() {
		return e
	}
	e.renewAt = tok.Expiry
	if c.lead > 0 {
		lead := c.lead
		if c.jitter > 0 {
			lead += rand.N(c.jitter)
		}
		if life := tok.Expiry.Sub(c.clock.Now()); lead > life/2 {
			lead = life / 2
		}
		e.renewAt = tok.Expiry.Add(-lead)
	}
	return e
}

// invalidate forgets the current token if it is accessToken.
func (c *cache) invalidate(accessToken string) {
	for {
		e := c.cur.Load()
		if e == nil || e.tok.AccessToken != accessToken {
			return
		}
		if c.cur.CompareAndSwap(e, nil) {
			return
		}
	}
}

// set replaces the cached token (a session loaded from its store).
func (c *cache) set(tok *oauth2.Token) { c.cur.Store(c.entryOf(tok)) }

// token is Token for the sources built on a cache.
func (c *cache) token(ctx context.Context) (*oauth2.Token, error) {
	e, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	return e.tok, nil
}

// bearerSource is implemented by this package's sources: Transport takes
// the header value made once per token instead of once per request.
type bearerSource interface {
	bearer(ctx context.Context) (header, accessToken string, err error)
}

func (c *cache) bearer(ctx context.Context) (string, string, error) {
	e, err := c.get(ctx)
	if err != nil {
		return "", "", err
	}
	return e.bearer, e.tok.AccessToken, nil
}

// OAuth2 adapts src to golang.org/x/oauth2, for code that takes an
// oauth2.TokenSource; ctx bounds each fetch.
func OAuth2(ctx context.Context, src TokenSource) oauth2.TokenSource {
	return oauth2Source{ctx, src}
}

type oauth2Source struct {
	ctx context.Context
	src TokenSource
}

func (s oauth2Source) Token() (*oauth2.Token, error) { return s.src.Token(s.ctx) }
