package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// budget is the one a request draws from.
type budget struct {
	all   store.RateLimits // both, for RateLimit-Policy
	class string           // "read" or "write"
	quota store.Quota
	key   string // the limiter key
}

// budget picks the caller's read or write budget: the route's own if it has
// one for this class (kept apart from the caller's general one), else the
// client's, its tenant's or the defaults.
func (g *Gateway) budget(t *Table, m *match, p *authn.Principal, write bool) budget {
	b := budget{all: fill(p.Limits, t.Defaults), class: "read", key: p.RateKey}
	own := m.route.Budgets
	if own != nil {
		b.all = fill(*own, b.all)
	}
	b.quota = b.all.Read
	if write {
		b.class, b.quota = "write", b.all.Write
	}
	if own != nil && (write && own.Write.Count > 0 || !write && own.Read.Count > 0) {
		b.key += "|route=" + m.route.Name
	}
	b.key += "|" + b.class
	return b
}

// checkBudget takes one request from the caller's budget (GCRA) and says
// in RateLimit what is left, whether or not the request passes.
func (g *Gateway) checkBudget(x *exchange) *refusal {
	res, err := g.Limiter.Allow(x.r.Context(), x.budget.key, limit(x.budget.quota))
	if err != nil {
		return g.limiterFailed(x.r.Context(), err)
	}
	x.w.Header().Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", x.budget.class, res.Remaining, seconds(res.Reset)))
	if res.Allowed {
		return nil
	}
	if g.Limited != nil && x.p.ClientID != "" {
		g.Limited(x.p.ClientID, g.Now())
	}
	return spent(x.budget, res)
}

var errNoLimiter = protocol.ErrUnavailable.WithDescription("rate limiting is unavailable; retry shortly").
	WithRetryAfter(time.Second)

// limiterFailed: when the shared limiter is down the gateway fails closed,
// with a 503 the caller may retry.
func (g *Gateway) limiterFailed(ctx context.Context, err error) *refusal {
	if ctx.Err() != nil {
		return callerGone
	}
	if !errors.Is(err, ratelimit.ErrUnavailable) {
		g.Log.Error("gateway: rate limiter failed", "err", err)
	}
	return refused(decUnavailable, errNoLimiter)
}

// spent is the 429 for a spent budget. Retry-After is rounded up: a client
// that waits that long passes.
func spent(b budget, res ratelimit.Result) *refusal {
	return refused(decLimited, protocol.ErrTooManyRequests.WithDescription(
		fmt.Sprintf("the %s budget of %d requests per %s is spent", b.class, b.quota.Count, b.quota.Per)).
		WithRetryAfter(max(res.RetryAfter, time.Second)))
}

// policy renders RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers-10).
func policy(b store.RateLimits) string {
	return fmt.Sprintf(`"read";q=%d;w=%d, "write";q=%d;w=%d`,
		b.Read.Count, seconds(b.Read.Per), b.Write.Count, seconds(b.Write.Per))
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
