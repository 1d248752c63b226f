package store

import (
	"context"
	"encoding/json"
	"time"
)

// WebhookEvent is a notification to a tenant's webhook, kept in an outbox
// until it is delivered or abandoned.
type WebhookEvent struct {
	ID, TenantID string
	Type         string
	Data         json.RawMessage // the event's "data" object
	// DedupKey, when set, is unique per tenant: enqueueing an event with a
	// key the tenant already has stores nothing.
	DedupKey  string
	CreatedAt time.Time
	// Attempts counts the claims so far (each claim is one delivery try).
	Attempts int
	// NextAttemptAt is when the event is next due; zero once it is
	// delivered or abandoned.
	NextAttemptAt time.Time
	DeliveredAt   time.Time // zero: not delivered
	LastError     string    // why the last try failed; kept on abandonment
}

// Webhook event states, as Status reports them.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookAbandoned = "abandoned"
)

// Status is the event's state: pending while a try is due, delivered, or
// abandoned (no try left and never delivered).
func (e *WebhookEvent) Status() string {
	switch {
	case !e.DeliveredAt.IsZero():
		return WebhookDelivered
	case e.NextAttemptAt.IsZero():
		return WebhookAbandoned
	}
	return WebhookPending
}

// WebhookPATExpiring is the type of the events EnqueuePATExpiryNotices
// writes; their data is a PATExpiring.
const WebhookPATExpiring = "pat.expiring"

// PATExpiring is the data of a pat.expiring event: DaysLeft is the notice
// (7 or 1), not a count; ExpiresAt is exact.
type PATExpiring struct {
	PATID     string    `json:"pat_id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"`
	ExpiresAt time.Time `json:"expires_at"`
	DaysLeft  int       `json:"days_left"`
}

// Webhooks persists the webhook outbox. Several replicas share it: a claim
// leases events so that only one replica tries each at a time.
type Webhooks interface {
	// EnqueueWebhook stores e, due at e.NextAttemptAt (zero: e.CreatedAt).
	// A DedupKey the tenant already has is no error, and nothing new is
	// stored; an unknown tenant is ErrNotFound.
	EnqueueWebhook(ctx context.Context, e *WebhookEvent) error
	GetWebhook(ctx context.Context, id string) (*WebhookEvent, error)
	// ClaimWebhooks takes up to limit pending events due at now, oldest due
	// first, and in one transaction moves their NextAttemptAt to now+lease
	// and counts an attempt: a concurrent claim (another replica) does not
	// get them until the lease ends. The events are returned as claimed.
	ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]WebhookEvent, error)
	// FinishWebhook records the outcome of try number attempt: delivered at
	// deliveredAt (non-zero), or else due again at nextAttempt (non-zero),
	// or else abandoned; lastErr is kept in every case. A delivered event
	// stays delivered: finishing it again changes nothing. A failure of a
	// try that is no longer the latest (it outlived its lease and the event
	// was claimed again) changes nothing either. ErrNotFound when unknown.
	FinishWebhook(ctx context.Context, id string, attempt int, deliveredAt, nextAttempt time.Time, lastErr string) error
	// EnqueuePATExpiryNotices enqueues, in one transaction, the pat.expiring
	// events of up to limit live tokens (unrevoked, expiring after now)
	// whose notice is due, and records the notice on each token:
	//
	//   - the 1-day notice (DaysLeft 1) once now is within a day of expiry,
	//     to every token, even one created with less than a day left;
	//   - otherwise the 7-day notice (DaysLeft 7) once now is within seven
	//     days of expiry, to tokens that lived through that mark (created
	//     at least seven days before expiry); a younger token is marked
	//     without an event and waits for its 1-day notice.
	//
	// A token gets each notice at most once and never both at once: when
	// both marks have passed (a short-lived token, a scan that was not
	// running) only the 1-day notice is sent. Tokens of a tenant without
	// a webhook URL are marked all the same, so that they are not scanned
	// again; a webhook configured later covers them from their next mark.
	// It returns how many tokens it marked (fewer than limit: none left).
	EnqueuePATExpiryNotices(ctx context.Context, now time.Time, limit int) (int, error)
	// PurgeWebhooks deletes up to limit delivered or abandoned events
	// created before before, and returns how many.
	PurgeWebhooks(ctx context.Context, before time.Time, limit int) (int, error)
}
