package authn

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The deny list is brought up to date every interval (Run) with what was
// denied since the last look, less an overlap that absorbs clock skew
// between replicas and transactions that commit late; expired entries are
// swept every sweepEvery, and the whole list is read again every
// fullReload in case something committed later than the overlap allows.
const (
	overlap    = 10 * time.Second
	sweepEvery = time.Minute
	fullReload = 10 * time.Minute
)

// Denied reports whether the entry is on this replica's copy of the deny
// list.
func (a *Authenticator) Denied(k revocation.Kind, id string) bool { return a.denied.Has(k, id) }

// Deny puts an entry on the deny list until until, with ev, in the store
// (every replica has it within --deny-list-refresh) and at once here.
func (a *Authenticator) Deny(ctx context.Context, k revocation.Kind, id string, until time.Time, ev store.Event) error {
	if err := a.Store.Deny(ctx, map[string]time.Time{revocation.ID(k, id): until}, ev); err != nil {
		return err
	}
	a.denied.Add(k, id, until)
	return nil
}

// DenyListLen is the number of entries on this replica's copy.
func (a *Authenticator) DenyListLen() int { return a.denied.Len() }

// RefreshDenyList brings the in-memory deny list up to date with the
// store. Run calls it every interval, so a revocation on any replica is
// honoured everywhere within that interval (plus one query); a revocation
// through this replica calls it at once (Watch). Adding what is new costs
// O(1) an entry, however long the list.
func (a *Authenticator) RefreshDenyList(ctx context.Context) error {
	a.refreshMu.Lock()
	defer a.refreshMu.Unlock()
	now := a.Now()
	since := a.lastRefresh.Add(-overlap)
	full := a.lastFull.IsZero() || now.Sub(a.lastFull) >= fullReload
	if full {
		since = time.Time{}
	}
	fresh, err := a.Store.Denied(ctx, now, since)
	if err != nil {
		return err
	}
	for id, until := range fresh {
		if !a.denied.AddID(id, until) && a.Log != nil {
			a.Log.Warn("deny list: an entry of no known kind", "id", id)
		}
	}
	if full {
		a.lastFull = now
	}
	if now.Sub(a.lastSweep) >= sweepEvery {
		a.denied.Sweep(now)
		a.lastSweep = now
	}
	a.lastRefresh = now
	return nil
}

// Run refreshes the deny list every interval until ctx ends.
func (a *Authenticator) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.RefreshDenyList(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("deny list refresh failed", "err", err)
			}
		}
	}
}

// sync pulls what was just denied through this replica, so that it is
// refused here before the answer to the revoking request goes out. A
// failure leaves it to the next refresh (the store has the entries).
func (a *Authenticator) sync(ctx context.Context) {
	if err := a.RefreshDenyList(context.WithoutCancel(ctx)); err != nil && a.Log != nil {
		a.Log.Warn("deny list: sync after a revocation failed; the next refresh will bring it", "err", err)
	}
}
