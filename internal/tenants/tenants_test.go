package tenants_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

// A tenant's gateway budgets are zero (the server default) or a count of 1
// to 1,000,000 per 1s to 24h; every bad one is listed.
func TestValidateRateLimits(t *testing.T) {
	q := func(n int, per time.Duration) store.Quota { return store.Quota{Count: n, Per: per} }
	for _, tc := range []struct {
		name   string
		limits store.RateLimits
		want   []string // problem prefixes; none when valid
	}{
		{"server default", store.RateLimits{}, nil},
		{"write only", store.RateLimits{Write: q(200, time.Minute)}, nil},
		{"bounds", store.RateLimits{Read: q(1_000_000, time.Second), Write: q(1, 24*time.Hour)}, nil},
		{"count without per", store.RateLimits{Read: q(600, 0)}, []string{"rate_limits.read"}},
		{"zero count", store.RateLimits{Write: q(0, time.Minute)}, []string{"rate_limits.write"}},
		{"count too high", store.RateLimits{Read: q(1_000_001, time.Minute)}, []string{"rate_limits.read"}},
		{"per out of range", store.RateLimits{Read: q(1, time.Millisecond), Write: q(1, 25*time.Hour)}, []string{"rate_limits.read", "rate_limits.write"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tenants.Validate(&store.Tenant{Name: "acme", Settings: store.TenantSettings{RateLimits: tc.limits}})
			var inv *tenants.InvalidError
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid limits refused: %v", err)
				}
				return
			}
			if !errors.As(err, &inv) || len(inv.Problems) != len(tc.want) {
				t.Fatalf("err = %v, want problems about %v", err, tc.want)
			}
			for i, p := range inv.Problems {
				if !strings.HasPrefix(p, tc.want[i]) {
					t.Errorf("problem %q, want one about %s", p, tc.want[i])
				}
			}
		})
	}
}
