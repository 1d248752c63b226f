// Package cache is the one expiring cache Gatehouse keeps verdicts and
// lookups in: good entries and failures live in separately bounded maps,
// because failures come from anyone (junk tokens, unknown ids) and must
// never push good entries out. An entry is fresh until its own deadline;
// a stale entry stays until room is needed, so that a caller may still use
// it while the store behind it is unreachable (Stale).
package cache

import (
	"sync"
	"time"
)

// Cache maps K to a V or to the error a lookup of K gave. The zero value is
// not usable; make one with New. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	maxGood, maxBad int
	now             func() time.Time // for choosing what to evict

	mu   sync.RWMutex
	good map[K]entry[V]
	bad  map[K]entry[V]
}

type entry[V any] struct {
	v     V
	err   error
	until time.Time
}

// New makes a cache of at most maxGood good entries and maxBad failures;
// now is the clock that tells stale entries when room is needed.
func New[K comparable, V any](maxGood, maxBad int, now func() time.Time) *Cache[K, V] {
	return &Cache[K, V]{maxGood: max(maxGood, 1), maxBad: max(maxBad, 1), now: now, good: map[K]entry[V]{}, bad: map[K]entry[V]{}}
}

// Get returns the fresh entry for k: its value, or the failure remembered
// for it (err != nil). ok is false when there is none, or it is stale.
func (c *Cache[K, V]) Get(k K, now time.Time) (v V, err error, ok bool) {
	c.mu.RLock()
	e, found := c.good[k]
	if !found {
		e, found = c.bad[k]
	}
	c.mu.RUnlock()
	if !found || !now.Before(e.until) {
		return v, nil, false
	}
	return e.v, e.err, true
}

// Stale returns the good entry for k, fresh or not, and the deadline it
// had: for serving a known value while its source is unreachable.
func (c *Cache[K, V]) Stale(k K) (v V, until time.Time, ok bool) {
	c.mu.RLock()
	e, ok := c.good[k]
	c.mu.RUnlock()
	return e.v, e.until, ok
}

// Put remembers v for k until until, replacing any failure remembered.
func (c *Cache[K, V]) Put(k K, v V, until time.Time) {
	c.mu.Lock()
	delete(c.bad, k)
	put(c.good, k, entry[V]{v: v, until: until}, c.maxGood, c.now)
	c.mu.Unlock()
}

// Fail remembers that looking k up gave err (non-nil), until until. A good
// entry for k is dropped: the newer answer wins.
func (c *Cache[K, V]) Fail(k K, err error, until time.Time) {
	c.mu.Lock()
	delete(c.good, k)
	put(c.bad, k, entry[V]{err: err, until: until}, c.maxBad, c.now)
	c.mu.Unlock()
}

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.good, k)
	delete(c.bad, k)
	c.mu.Unlock()
}

// Clear forgets everything.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	c.good, c.bad = map[K]entry[V]{}, map[K]entry[V]{}
	c.mu.Unlock()
}

// Len is the number of good entries and of failures held, stale or not.
func (c *Cache[K, V]) Len() (good, bad int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.good), len(c.bad)
}

// put stores e in m, making room first when m is full: stale entries go
// first; if that frees less than a tenth, a random tenth more goes (map
// order is random). Either way the next sweep is at least a tenth of the
// capacity away, so an insert costs O(1) amortized.
func put[K comparable, V any](m map[K]entry[V], k K, e entry[V], limit int, clock func() time.Time) {
	if _, ok := m[k]; !ok && len(m) >= limit {
		now := clock()
		for key, old := range m {
			if !now.Before(old.until) {
				delete(m, key)
			}
		}
		for key := range m {
			if len(m) < limit-limit/10 {
				break
			}
			delete(m, key)
		}
	}
	m[k] = e
}
