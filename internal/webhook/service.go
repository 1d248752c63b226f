package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ErrNoWebhook refuses a Ping to a tenant without a webhook URL.
var ErrNoWebhook = problem.New(problem.KindConflict, "webhook: the tenant has no webhook URL",
	"the tenant has no webhook: set settings.webhook_url first")

// Defaults for the Service's tuning fields left zero.
const (
	DefaultMaxAttempts = 10
	DefaultLease       = 2 * time.Minute
	DefaultBatch       = 16
	DefaultPoll        = 5 * time.Second
	// Retention is how long delivered and abandoned events are kept.
	Retention = 30 * 24 * time.Hour
)

// Store is what the service needs persisted.
type Store interface {
	store.Webhooks
	GetTenantByID(ctx context.Context, id string) (*store.Tenant, error)
}

// Service enqueues tenants' webhook events and delivers them.
type Service struct {
	Store Store
	// Client makes the deliveries (the app's egress client: SSRF rules,
	// time limit, response cap). Its timeout bounds each try.
	Client *http.Client
	// Secret returns a tenant's signing key (the app derives it from the
	// master key: secret.Sealer.Derive("webhook "+tenantID)).
	Secret func(tenantID string) []byte
	Now    func() time.Time
	Log    *slog.Logger

	// MaxAttempts is the tries before an event is abandoned.
	MaxAttempts int
	// Lease is how long a claimed event is this replica's; a try is cut
	// off at half of it, so that no other replica retries it meanwhile.
	Lease time.Duration
	// Batch is how many events a round claims and tries at once.
	Batch int
	// Poll is how often Run looks for due events (an Enqueue on this
	// replica wakes it at once).
	Poll time.Duration

	wakeOnce sync.Once
	wake     chan struct{}
}

// Enqueue writes an event of type typ for the tenant, data being its
// "data" object, to be delivered by Run on some replica. A tenant without
// a webhook URL gets nothing (nil). dedupKey, when set, makes a second
// event with the same key for the tenant a no-op: an event decided on
// several replicas, or retried by its caller, is sent once.
func (s *Service) Enqueue(ctx context.Context, tenantID, typ, dedupKey string, data any) error {
	_, err := s.enqueue(ctx, tenantID, typ, dedupKey, data)
	if errors.Is(err, ErrNoWebhook) {
		return nil
	}
	return err
}

// Ping enqueues a ping event for the tenant and returns its id, to follow
// with Status; ErrNoWebhook when the tenant has no webhook URL.
func (s *Service) Ping(ctx context.Context, tenantID string) (string, error) {
	return s.enqueue(ctx, tenantID, TypePing, "", struct{}{})
}

// Status returns an event of the tenant: its attempts, delivery, error.
func (s *Service) Status(ctx context.Context, tenantID, id string) (*store.WebhookEvent, error) {
	e, err := s.Store.GetWebhook(ctx, id)
	if err == nil && e.TenantID != tenantID {
		return nil, &store.NotFoundError{Kind: "webhook event", ID: id}
	}
	return e, err
}

func (s *Service) enqueue(ctx context.Context, tenantID, typ, dedupKey string, data any) (string, error) {
	t, err := s.Store.GetTenantByID(ctx, tenantID)
	if err != nil {
		return "", err
	}
	if t.Settings.WebhookURL == "" {
		return "", ErrNoWebhook
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("webhook: %s data: %w", typ, err)
	}
	e := &store.WebhookEvent{ID: secret.NewID("msg"), TenantID: tenantID, Type: typ, Data: raw, DedupKey: dedupKey,
		CreatedAt: s.now()}
	if err := s.Store.EnqueueWebhook(ctx, e); err != nil {
		return "", err
	}
	s.kick()
	return e.ID, nil
}

// kick wakes this replica's Run without waiting for its next poll.
func (s *Service) kick() {
	select {
	case s.wakeup() <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func (s *Service) wakeup() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
