package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// The retry schedule: the wait after a failed try starts at baseBackoff
// and doubles up to maxBackoff, each drawn ±25% so that a receiver back
// from an outage is not hit by every replica's retries at one instant.
const (
	baseBackoff = 30 * time.Second
	maxBackoff  = time.Hour
)

// backoff is the wait after the attempt-th (1, 2, …) failed try; r in
// [0, 1) places it within its ±25% band.
func backoff(attempt int, r float64) time.Duration {
	d := baseBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d*3/4 + time.Duration(r*float64(d/2))
}

// DeliverDue claims the events due now (up to Batch), tries them at once,
// and records each outcome. It returns how many it tried.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	evs, err := s.Store.ClaimWebhooks(ctx, s.now(), orDefault(s.Lease, DefaultLease), orDefault(s.Batch, DefaultBatch))
	if err != nil {
		return 0, err
	}
	errs := make([]error, len(evs))
	var wg sync.WaitGroup
	for i := range evs {
		wg.Go(func() { errs[i] = s.deliver(ctx, &evs[i]) })
	}
	wg.Wait()
	return len(evs), errors.Join(errs...)
}

// outcome is how a try ended: delivered, or failed with err; final when
// no retry can help.
type outcome struct {
	delivered bool
	err       string
	final     bool
}

// deliver makes one try of a claimed event and records its outcome; the
// error is the store's, when the outcome could not be recorded (the lease
// then runs out and the event is tried again).
func (s *Service) deliver(ctx context.Context, e *store.WebhookEvent) error {
	return s.record(ctx, e, s.try(ctx, e))
}

func (s *Service) try(ctx context.Context, e *store.WebhookEvent) outcome {
	t, err := s.Store.GetTenantByID(ctx, e.TenantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return outcome{err: "the tenant no longer exists", final: true}
	case err != nil:
		return outcome{err: "tenant lookup: " + err.Error()}
	case t.Settings.WebhookURL == "":
		return outcome{err: "the tenant has no webhook URL", final: true}
	}
	status, err := s.post(ctx, t, e)
	switch {
	case err != nil:
		return outcome{err: err.Error()}
	case status < 200 || status > 299:
		return outcome{err: "HTTP " + strconv.Itoa(status)}
	}
	return outcome{delivered: true}
}

// record stores a try's outcome: delivered, or due again after the
// backoff, or abandoned (final, or out of attempts) with its error kept.
func (s *Service) record(ctx context.Context, e *store.WebhookEvent, o outcome) error {
	now := s.now()
	var deliveredAt, next time.Time
	switch {
	case o.delivered:
		deliveredAt = now
	case !o.final && e.Attempts < orDefault(s.MaxAttempts, DefaultMaxAttempts):
		next = now.Add(backoff(e.Attempts, rand.Float64()))
	}
	if !o.delivered {
		s.log().Warn("webhook delivery failed", "event", e.ID, "type", e.Type, "tenant", e.TenantID,
			"attempt", e.Attempts, "err", o.err, "abandoned", next.IsZero())
	}
	return s.Store.FinishWebhook(ctx, e.ID, e.Attempts, deliveredAt, next, o.err)
}

// post sends the signed event to the tenant's URL and returns the status.
// Redirects are not followed: a receiver answers at its URL.
func (s *Service) post(ctx context.Context, t *store.Tenant, e *store.WebhookEvent) (int, error) {
	var key []byte
	if s.Secret != nil {
		key = s.Secret(e.TenantID)
	}
	if len(key) == 0 {
		return 0, errors.New("no signing key for the tenant")
	}
	body, err := envelope(e, t.Name)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(s.Lease, DefaultLease)/2)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Settings.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("bad webhook URL: %w", err)
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gatehouse-Webhook/1")
	req.Header.Set("webhook-id", e.ID)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+sign(key, e.ID, ts, body))
	client := *s.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return 0, urlless(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // drained for connection reuse only
	return resp.StatusCode, nil
}

// urlless drops the URL from a client error: it may carry a token of the
// receiver's, and the error is logged and stored.
func urlless(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("POST: %w", ue.Err)
	}
	return err
}
