package httpapi

import (
	"math"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// Durations are whole seconds on the wire.

// seconds reads a wire duration. It saturates rather than wraps, so a huge
// value fails validation instead of becoming a small one.
func seconds(s int64) time.Duration {
	const most = int64(math.MaxInt64 / time.Second)
	switch {
	case s > most:
		return math.MaxInt64
	case s < -most:
		return math.MinInt64
	}
	return time.Duration(s) * time.Second
}

func quotaJSON(q store.Quota) admin.Quota {
	return admin.Quota{Count: q.Count, Per: int64(q.Per / time.Second)}
}

// quotaPtr reads an optional wire quota; nil stays nil (left alone).
func quotaPtr(q *admin.Quota) *store.Quota {
	if q == nil {
		return nil
	}
	return &store.Quota{Count: q.Count, Per: seconds(q.Per)}
}

func rateLimitsJSON(rl store.RateLimits) admin.RateLimits {
	return admin.RateLimits{Read: quotaJSON(rl.Read), Write: quotaJSON(rl.Write)}
}

// nonNil renders a nil list as [] rather than null.
func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}
