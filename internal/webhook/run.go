package webhook

import (
	"context"
	"time"
)

// How often Run scans for PAT expiry notices and purges old events, and
// how much each store call takes on.
const (
	scanEvery  = 10 * time.Minute
	purgeEvery = time.Hour
	chunk      = 500
)

// Run delivers due events until ctx ends: every Poll, at once after an
// Enqueue on this replica, and back to back while full batches come. It
// also enqueues PAT expiry notices (at start, then every ten minutes) and
// purges events finished more than Retention ago (hourly). Every replica
// may run it: claims and notices are safe to race.
func (s *Service) Run(ctx context.Context) {
	poll := time.NewTicker(orDefault(s.Poll, DefaultPoll))
	scan := time.NewTicker(scanEvery)
	purge := time.NewTicker(purgeEvery)
	defer poll.Stop()
	defer scan.Stop()
	defer purge.Stop()
	s.scan(ctx)
	for {
		s.drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-s.wakeup():
		case <-scan.C:
			s.scan(ctx)
		case <-purge.C:
			if _, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				s.log().Warn("webhook purge failed", "err", err)
			}
		}
	}
}

// drain delivers rounds while they come back full.
func (s *Service) drain(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := s.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.log().Warn("webhook delivery round failed", "err", err)
		}
		if err != nil || n < orDefault(s.Batch, DefaultBatch) {
			return
		}
	}
}

func (s *Service) scan(ctx context.Context) {
	if _, err := s.ScanPATExpiry(ctx); err != nil && ctx.Err() == nil {
		s.log().Warn("PAT expiry scan failed", "err", err)
	}
}

// ScanPATExpiry enqueues the PAT expiry notices due now, in batches (see
// store.Webhooks.EnqueuePATExpiryNotices), and returns how many tokens it
// marked.
func (s *Service) ScanPATExpiry(ctx context.Context) (int, error) {
	n, err := s.inChunks(ctx, func() (int, error) { return s.Store.EnqueuePATExpiryNotices(ctx, s.now(), chunk) })
	if n > 0 {
		s.kick() // deliver what was queued now, not at the next poll
	}
	return n, err
}

// Purge deletes events delivered or abandoned that were created more than
// Retention ago, and returns how many.
func (s *Service) Purge(ctx context.Context) (int, error) {
	return s.inChunks(ctx, func() (int, error) { return s.Store.PurgeWebhooks(ctx, s.now().Add(-Retention), chunk) })
}

// inChunks calls step until it does less than a full chunk.
func (s *Service) inChunks(ctx context.Context, step func() (int, error)) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := step()
		total += n
		if err != nil || n < chunk {
			return total, err
		}
	}
	return total, ctx.Err()
}
