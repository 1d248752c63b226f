package revocation

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRevoke adds one entry to a list that already holds 1k, or 1M,
// live entries: the cost must not depend on the size (issue 14 measured
// 240-470 ms per revocation at 300k entries when every insert copied the
// list). Compare the two with benchstat.
func BenchmarkRevoke(b *testing.B) {
	for _, size := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", size), func(b *testing.B) {
			var l List
			until := time.Now().Add(time.Hour)
			for i := range size {
				l.Add(Token, fmt.Sprintf("live-%d", i), until)
			}
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = fmt.Sprintf("new-%d", i)
			}
			b.ResetTimer()
			for i := range b.N {
				l.Add(Token, ids[i], until)
			}
		})
	}
}

// BenchmarkCheck is the gateway's question, for a token that is not on a
// list of 1k or 1M entries.
func BenchmarkCheck(b *testing.B) {
	for _, size := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", size), func(b *testing.B) {
			var l List
			until := time.Now().Add(time.Hour)
			for i := range size {
				l.Add(Token, fmt.Sprintf("live-%d", i), until)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if l.Has(Token, "Xq3-not-revoked-0123") {
						b.Fatal("found")
					}
				}
			})
		})
	}
}
