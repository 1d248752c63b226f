// Package audit owns the activity log. Admin mutations hand their Event to
// the store method that makes the change, so both commit in one transaction;
// events that stand alone (failed client authentication) go through a
// Recorder that batches them off the request path.
package audit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
)

type metaKey struct{}

// Meta is what the transport knows about the caller.
type Meta struct {
	IP        string
	UserAgent string
	RequestID string
}

// WithMeta returns a context carrying request metadata.
func WithMeta(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// MetaFrom returns the request metadata of ctx, if any.
func MetaFrom(ctx context.Context) Meta {
	m, _ := ctx.Value(metaKey{}).(Meta)
	return m
}

// New builds an event stamped with the request metadata in ctx.
func New(ctx context.Context, now time.Time, tenantID, actor string, action store.Action, target, outcome string) store.Event {
	m := MetaFrom(ctx)
	return store.Event{Time: now, TenantID: tenantID, Actor: protocol.Clean(actor, 128), Action: action,
		Target: protocol.Clean(target, 256), IP: protocol.Clean(m.IP, 64), UserAgent: protocol.Clean(m.UserAgent, 256), Outcome: outcome}
}

// Recorder writes stand-alone events in batches. When the buffer is full
// (the store is down or an attacker is flooding), events are dropped and
// counted rather than slowing requests down.
type Recorder struct {
	store   store.Audit
	log     *slog.Logger
	ch      chan store.Event
	dropped atomic.Int64
	done    chan struct{}
	mu      sync.RWMutex // guards closed against Record racing Close
	closed  bool
}

// NewRecorder starts a recorder; Close flushes it.
func NewRecorder(s store.Audit, log *slog.Logger) *Recorder {
	r := &Recorder{store: s, log: log, ch: make(chan store.Event, 4096), done: make(chan struct{})}
	go r.run()
	return r
}

// Record queues an event without blocking. After Close (a handler that
// outlived the shutdown grace) the event is counted as dropped.
func (r *Recorder) Record(ev store.Event) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.dropped.Add(1)
		return
	}
	select {
	case r.ch <- ev:
	default:
		r.dropped.Add(1)
	}
}

// Write stores an event before returning, for the events that must outlive
// a crash the moment the caller has its answer (sign-ins, security
// events); Record batches the rest.
func (r *Recorder) Write(ctx context.Context, ev store.Event) error {
	return r.store.AppendEvents(ctx, []store.Event{ev})
}

// Dropped is how many events were lost to a full buffer.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Close writes what is queued and stops.
func (r *Recorder) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.ch)
	}
	r.mu.Unlock()
	<-r.done
}

func (r *Recorder) run() {
	defer close(r.done)
	batch := make([]store.Event, 0, 256)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.store.AppendEvents(ctx, batch); err != nil {
			// One bad event must not take the batch with it: retry one by one.
			for _, ev := range batch {
				if err := r.store.AppendEvents(ctx, []store.Event{ev}); err != nil {
					r.log.Error("audit: write failed", "action", ev.Action, "err", err)
					r.dropped.Add(1)
				}
			}
		}
		cancel()
		batch = batch[:0]
	}
	for {
		select {
		case ev, ok := <-r.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, ev)
			if len(batch) == cap(batch) {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}
