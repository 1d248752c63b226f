package gateway

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts the gateway's decisions and upstream failures by route
// name (a bounded label: routes come from the routes file).
type Metrics struct {
	decisions *prometheus.CounterVec
	upstream  *prometheus.CounterVec
}

// NewMetrics registers the gateway's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_gateway_requests_total",
			Help: "Gateway requests by route and decision (allowed, unauthenticated, forbidden, limited, bad_request, not_found, gone, unavailable)."},
			[]string{"route", "decision"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_gateway_upstream_errors_total",
			Help: "Proxied requests that failed at the upstream, by route and kind (timeout, unavailable, body_too_large, client_gone)."},
			[]string{"route", "kind"}),
	}
	reg.MustRegister(m.decisions, m.upstream)
	return m
}

func (m *Metrics) decide(route, decision string) {
	if m != nil {
		m.decisions.WithLabelValues(route, decision).Inc()
	}
}

func (m *Metrics) upstreamError(route, kind string) {
	if m != nil {
		m.upstream.WithLabelValues(route, kind).Inc()
	}
}
