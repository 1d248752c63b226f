package clients_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/store"
)

// A gateway budget is zero (inherit the tenant's) or a count of 1 to
// 1,000,000 per 1s to 24h; a bad one is an *InvalidError naming it.
func TestValidateRateLimits(t *testing.T) {
	q := func(n int, per time.Duration) *store.Quota { return &store.Quota{Count: n, Per: per} }
	for _, tc := range []struct {
		name        string
		read, write *store.Quota
		want        string // "" when valid
	}{
		{"inherit both", q(0, 0), q(0, 0), ""},
		{"read only", q(600, time.Minute), nil, ""},
		{"bounds", q(1, time.Second), q(1_000_000, 24*time.Hour), ""},
		{"count without per", q(10, 0), nil, "rate_limits.read"},
		{"per without count", nil, q(0, time.Minute), "rate_limits.write"},
		{"count too high", q(1_000_001, time.Minute), nil, "rate_limits.read"},
		{"negative count", nil, q(-1, time.Minute), "rate_limits.write"},
		{"per too short", q(10, time.Second-1), nil, "rate_limits.read"},
		{"per too long", nil, q(10, 24*time.Hour+time.Second), "rate_limits.write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &store.Client{Name: "c", Grants: []string{"client_credentials"}, TokenFormat: store.FormatJWT}
			err := (&clients.Patch{ReadLimit: tc.read, WriteLimit: tc.write}).Apply(c)
			var inv *clients.InvalidError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid limits refused: %v", err)
			case tc.want == "":
				if tc.read != nil && c.RateLimits.Read != *tc.read || tc.write != nil && c.RateLimits.Write != *tc.write {
					t.Fatalf("patch not applied: %+v", c.RateLimits)
				}
			case !errors.As(err, &inv) || len(inv.Problems) != 1 || !strings.HasPrefix(inv.Problems[0], tc.want):
				t.Fatalf("err = %v, want one problem about %s", err, tc.want)
			}
		})
	}
}
