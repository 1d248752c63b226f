package authn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/store"
)

// oneNew is a deny list in the store that has one new entry each time a
// replica asks what was denied since its last look.
type oneNew struct {
	store.Tokens
	n int
}

func (s *oneNew) Denied(ctx context.Context, now, since time.Time) (map[string]time.Time, error) {
	s.n++
	return map[string]time.Time{revocation.ID(revocation.Token, fmt.Sprint("new-", s.n)): now.Add(time.Hour)}, nil
}

// BenchmarkDenyListRefresh is what one revocation costs every replica: the
// refresh that brings it into the in-memory copy, with 1k or 1M entries
// already there. Issue 14 measured 240-470 ms per revocation at 300k
// entries when the copy was rebuilt; it must not depend on the size.
func BenchmarkDenyListRefresh(b *testing.B) {
	for _, size := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", size), func(b *testing.B) {
			now := time.Now()
			a := &Authenticator{Store: &oneNew{}, Now: func() time.Time { return now }}
			for i := range size {
				a.denied.Add(revocation.Token, fmt.Sprint("live-", i), now.Add(time.Hour))
			}
			// Past the first (whole) load, and away from the sweep: what
			// every revocation costs between them.
			a.lastFull, a.lastSweep, a.lastRefresh = now, now, now
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := a.RefreshDenyList(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
