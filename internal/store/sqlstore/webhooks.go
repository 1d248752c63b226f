package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

var _ store.Webhooks = (*DB)(nil)

const webhookCols = `id, tenant_id, type, payload, dedup_key, created_at, attempts, next_attempt_at, delivered_at, last_error`

func scanWebhook(row interface{ Scan(...any) error }) (*store.WebhookEvent, error) {
	var e store.WebhookEvent
	var payload string
	var dedup sql.NullString
	var created, next, delivered int64
	if err := row.Scan(&e.ID, &e.TenantID, &e.Type, &payload, &dedup, &created, &e.Attempts, &next, &delivered,
		&e.LastError); err != nil {
		return nil, err
	}
	e.Data, e.DedupKey = []byte(payload), dedup.String
	e.CreatedAt, e.NextAttemptAt, e.DeliveredAt = fromMicros(created), fromMicros(next), fromMicros(delivered)
	return &e, nil
}

// insertWebhook stores e unless its tenant already has its dedup key
// (NULL keys never collide, so events without one are always stored).
func insertWebhook(ctx context.Context, q querier, e *store.WebhookEvent) error {
	due := e.NextAttemptAt
	if due.IsZero() {
		due = e.CreatedAt
	}
	if due.IsZero() {
		return fmt.Errorf("sqlstore: webhook event %s has no time", e.ID) // 0 would read as finished
	}
	payload := string(e.Data)
	if len(e.Data) == 0 {
		payload = "{}"
	}
	dedup := sql.NullString{String: e.DedupKey, Valid: e.DedupKey != ""}
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_events (`+webhookCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (tenant_id, dedup_key) DO NOTHING`, e.ID, e.TenantID, e.Type, payload, dedup, micros(e.CreatedAt),
		e.Attempts, micros(due), micros(e.DeliveredAt), e.LastError)
	return err
}

// EnqueueWebhook implements store.Webhooks.
func (s *DB) EnqueueWebhook(ctx context.Context, e *store.WebhookEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.wrap(insertWebhook(ctx, s.db, e))
}

// GetWebhook implements store.Webhooks.
func (s *DB) GetWebhook(ctx context.Context, id string) (*store.WebhookEvent, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	e, err := scanWebhook(s.db.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhook_events WHERE id = $1`, id))
	return e, s.wrap(err)
}

// ClaimWebhooks implements store.Webhooks. The due rows are locked as they
// are read (FOR UPDATE; SQLite's BEGIN IMMEDIATE serializes every write),
// so a concurrent claim waits, then finds them leased and passes them by.
func (s *DB) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]store.WebhookEvent, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out []store.WebhookEvent
	until := now.Add(lease)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		due, err := queryWebhooks(ctx, tx, `SELECT `+webhookCols+` FROM webhook_events
			WHERE next_attempt_at > 0 AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2`+s.d.ForUpdate,
			micros(now), limit(n))
		if err != nil {
			return err
		}
		out = due[:0]
		for _, e := range due {
			// The scan's condition again: never lease a row twice.
			err := affected(tx.ExecContext(ctx, `UPDATE webhook_events SET next_attempt_at = $2, attempts = attempts + 1
				WHERE id = $1 AND next_attempt_at > 0 AND next_attempt_at <= $3`, e.ID, micros(until), micros(now)))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			e.Attempts, e.NextAttemptAt = e.Attempts+1, until
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func queryWebhooks(ctx context.Context, q querier, query string, args ...any) ([]store.WebhookEvent, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.WebhookEvent
	for rows.Next() {
		e, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// FinishWebhook implements store.Webhooks.
func (s *DB) FinishWebhook(ctx context.Context, id string, attempt int, deliveredAt, nextAttempt time.Time, lastErr string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	next := micros(nextAttempt)
	if !deliveredAt.IsZero() {
		next = 0
	}
	// A delivery is recorded whichever try made it; a failure only by the
	// latest try, so that a late one cannot reschedule a newer claim.
	err := affected(s.db.ExecContext(ctx, `UPDATE webhook_events SET delivered_at = $2, next_attempt_at = $3, last_error = $4
		WHERE id = $1 AND delivered_at = 0 AND ($6 OR attempts = $5)`, id, micros(deliveredAt), next, lastErr, attempt, !deliveredAt.IsZero()))
	if !errors.Is(err, store.ErrNotFound) {
		return s.wrap(err)
	}
	// Nothing changed: delivered already (by a try that outlived its
	// lease), or unknown.
	var one int
	return s.wrap(s.db.QueryRowContext(ctx, `SELECT 1 FROM webhook_events WHERE id = $1`, id).Scan(&one))
}

// PurgeWebhooks implements store.Webhooks.
func (s *DB) PurgeWebhooks(ctx context.Context, before time.Time, n int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_events WHERE id IN
		(SELECT id FROM webhook_events WHERE next_attempt_at = 0 AND created_at < $1 LIMIT $2)`, micros(before), limit(n))
	if err != nil {
		return 0, s.wrap(err)
	}
	deleted, err := res.RowsAffected()
	return int(deleted), err
}

const day = 24 * time.Hour

// Expiry notices recorded in pats.expiry_notified.
const (
	noticeNone = 0
	notice7    = 7
	notice1    = 1
)

// patNotice decides the notice of a token whose next mark has passed at
// now: the mark to record, and whether the token earned its event. The
// later mark wins; the 7-day notice goes only to tokens that lived through
// their 7-day mark.
func patNotice(created, expires, now time.Time) (mark int, send bool) {
	if !now.Before(expires.Add(-day)) {
		return notice1, true
	}
	return notice7, !created.After(expires.Add(-7 * day))
}

// dueNotice is a token whose next expiry notice is due.
type dueNotice struct {
	store.PAT
	notified int
}

// EnqueuePATExpiryNotices implements store.Webhooks. The tokens are locked
// as they are read and each mark is set only from the value read, so
// concurrent scans (replicas) never send a notice twice.
func (s *DB) EnqueuePATExpiryNotices(ctx context.Context, now time.Time, n int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var marked int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		marked = 0
		due, err := s.dueNotices(ctx, tx, now, n)
		if err != nil {
			return err
		}
		hooked := map[string]bool{} // tenant id → has a webhook URL
		for _, d := range due {
			has, ok := hooked[d.TenantID]
			if !ok {
				if has, err = hasWebhook(ctx, tx, d.TenantID); err != nil {
					return err
				}
				hooked[d.TenantID] = has
			}
			did, err := markNotice(ctx, tx, &d, now, has)
			if err != nil {
				return err
			}
			if did {
				marked++
			}
		}
		return nil
	})
	return marked, err
}

// dueNotices reads, locked, the live tokens with a notice due at now: the
// 7-day mark passed and no notice yet, or the 1-day mark passed and no
// 1-day notice yet.
func (s *DB) dueNotices(ctx context.Context, tx *sql.Tx, now time.Time, n int) ([]dueNotice, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant_id, user_id, name, prefix, created_at, expires_at, expiry_notified
		FROM pats WHERE revoked_at = 0 AND expires_at > $1 AND expires_at <= $2
		AND (expiry_notified = $4 OR (expiry_notified = $5 AND expires_at <= $3))
		ORDER BY expires_at, id LIMIT $6`+s.d.ForUpdate,
		micros(now), micros(now.Add(7*day)), micros(now.Add(day)), noticeNone, notice7, limit(n))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dueNotice
	for rows.Next() {
		var d dueNotice
		var created, expires int64
		if err := rows.Scan(&d.ID, &d.TenantID, &d.UserID, &d.Name, &d.Prefix, &created, &expires, &d.notified); err != nil {
			return nil, err
		}
		d.CreatedAt, d.ExpiresAt = fromMicros(created), fromMicros(expires)
		out = append(out, d)
	}
	return out, rows.Err()
}

func hasWebhook(ctx context.Context, tx *sql.Tx, tenantID string) (bool, error) {
	var raw string
	if err := tx.QueryRowContext(ctx, `SELECT settings FROM tenants WHERE id = $1`, tenantID).Scan(&raw); err != nil {
		return false, err
	}
	var settings store.TenantSettings
	if err := fromJSON(raw, &settings); err != nil {
		return false, err
	}
	return settings.WebhookURL != "", nil
}

// markNotice records the token's due notice and, when it earned one and
// its tenant has a webhook, enqueues the event. false: another scan
// recorded it first.
func markNotice(ctx context.Context, tx *sql.Tx, d *dueNotice, now time.Time, hooked bool) (bool, error) {
	mark, send := patNotice(d.CreatedAt, d.ExpiresAt, now)
	err := affected(tx.ExecContext(ctx, `UPDATE pats SET expiry_notified = $2 WHERE id = $1 AND expiry_notified = $3`,
		d.ID, mark, d.notified))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case !send || !hooked:
		return true, nil
	}
	data := store.PATExpiring{PATID: d.ID, UserID: d.UserID, Name: d.Name, Prefix: d.Prefix, ExpiresAt: d.ExpiresAt, DaysLeft: mark}
	return true, insertWebhook(ctx, tx, &store.WebhookEvent{
		ID: secret.NewID("msg"), TenantID: d.TenantID, Type: store.WebhookPATExpiring, Data: []byte(toJSON(data)),
		DedupKey: fmt.Sprintf("%s:%s:%d", store.WebhookPATExpiring, d.ID, mark), CreatedAt: now,
	})
}
