// Package revocation owns the one deny list every credential kind is
// checked against: access-token ids (JWT and opaque alike carry a jti) and
// refresh families (the session id every token minted from a family
// carries), each kept until the last moment a token it covers could be
// live. The store holds the list (every replica reads it); List is a
// replica's copy in memory, consulted on every request without touching
// the store. Adding an entry costs O(1) whatever the list's size: no copy
// of the list is ever made.
package revocation

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxTokenLifetime is the longest an access token lives (clients.MaxTTL):
// a family's entry stays this long after its revocation, since no token is
// minted from a revoked family.
const MaxTokenLifetime = 30 * 24 * time.Hour

// Kind is what a deny-list entry names.
type Kind uint8

// The kinds of entry.
const (
	// Token is one access token, by its jti.
	Token Kind = iota + 1
	// Family is a refresh family (an authorization's or an API-key
	// session's chain of tokens): every token minted from it carries its
	// id as sid.
	Family
	// Session is a browser session of the console and the authorize pages,
	// signed out before its cookie expires.
	Session
)

// prefixes spell each kind in the store's id column.
var prefixes = [...]string{Token: "jti:", Family: "fam:", Session: "session:"}

// ID is the store's spelling of an entry: the kind's prefix and the id.
func ID(k Kind, id string) string { return prefixes[k] + id }

// Parse splits a store id into its kind and id; ok is false for one of no
// known kind.
func Parse(s string) (Kind, string, bool) {
	for k := Token; int(k) < len(prefixes); k++ {
		if rest, ok := strings.CutPrefix(s, prefixes[k]); ok && rest != "" {
			return k, rest, true
		}
	}
	return 0, "", false
}

type key struct {
	kind Kind
	id   string
}

// shards spread the list over independently locked maps, so that lookups
// on every core and an insert never wait on one lock.
const shards = 64

// List is a replica's in-memory copy of the deny list. The zero value is
// an empty list ready to use.
type List struct {
	seed   maphash.Seed
	once   sync.Once
	n      atomic.Int64
	shards [shards]struct {
		mu sync.RWMutex
		m  map[key]time.Time
		_  [40]byte // keep shards on separate cache lines
	}
}

func (l *List) shard(id string) int {
	l.once.Do(func() { l.seed = maphash.MakeSeed() })
	return int(maphash.String(l.seed, id) % shards)
}

// Add puts an entry on the list until until (a later until for one already
// there wins). It costs O(1).
func (l *List) Add(k Kind, id string, until time.Time) {
	s := &l.shards[l.shard(id)]
	s.mu.Lock()
	if s.m == nil {
		s.m = map[key]time.Time{}
	}
	old, ok := s.m[key{k, id}]
	if !ok {
		l.n.Add(1)
	}
	if !ok || until.After(old) {
		s.m[key{k, id}] = until
	}
	s.mu.Unlock()
}

// AddID is Add for an entry in the store's spelling; ok is false (and
// nothing is added) for an id of no known kind.
func (l *List) AddID(storeID string, until time.Time) bool {
	k, id, ok := Parse(storeID)
	if ok {
		l.Add(k, id, until)
	}
	return ok
}

// Has reports whether the entry is on the list. An empty id never is.
func (l *List) Has(k Kind, id string) bool {
	if id == "" {
		return false
	}
	s := &l.shards[l.shard(id)]
	s.mu.RLock()
	_, ok := s.m[key{k, id}]
	s.mu.RUnlock()
	return ok
}

// Len is the number of entries held.
func (l *List) Len() int { return int(l.n.Load()) }

// Sweep drops the entries whose until is before now (their tokens have
// expired, so nothing needs them) and returns how many it dropped. It holds
// one shard's lock at a time.
func (l *List) Sweep(now time.Time) int {
	dropped := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, until := range s.m {
			if until.Before(now) {
				delete(s.m, k)
				dropped++
			}
		}
		s.mu.Unlock()
	}
	l.n.Add(int64(-dropped))
	return dropped
}
