// Package httpx owns the HTTP plumbing every surface shares: request ids,
// the caller's real IP behind trusted proxies, panic recovery, metrics by
// route pattern, access logs, security headers, and servers with timeouts.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/protocol"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies middlewares so that the first one listed runs first.
func Chain(h http.Handler, m ...Middleware) http.Handler {
	for i := len(m) - 1; i >= 0; i-- {
		h = m[i](h)
	}
	return h
}

// Proxies lists the networks whose X-Forwarded-For / X-Forwarded-Proto
// headers are believed.
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of CIDRs or addresses.
func ParseProxies(s string) (Proxies, error) {
	var out Proxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	for _, n := range p {
		if n.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// ClientIP returns the caller's address: the peer, or, when the peer is a
// trusted proxy, the rightmost X-Forwarded-For entry that is not one.
func (p Proxies) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !p.trusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !p.trusted(a) {
			return a.String()
		}
	}
	return host
}

// IsHTTPS reports whether the request came over TLS, directly or through a
// trusted proxy that says so.
func (p Proxies) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	peer, err := netip.ParseAddr(host)
	return err == nil && p.trusted(peer) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Meta stamps every request with an id and the caller's IP and user agent,
// for logs and the activity log.
func Meta(p Proxies) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 8)
			rand.Read(b)
			id := hex.EncodeToString(b)
			w.Header().Set("X-Request-Id", id)
			m := audit.Meta{IP: p.ClientIP(r), UserAgent: r.UserAgent(), RequestID: id}
			next.ServeHTTP(w, r.WithContext(audit.WithMeta(r.Context(), m)))
		})
	}
}

// Recover turns a panic into a 500 server_error and logs it.
func Recover(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("panic serving request", "path", r.URL.Path, "panic", v, "request_id", audit.MetaFrom(r.Context()).RequestID)
					protocol.WriteError(w, protocol.ErrServer.WithDescription("internal error"), nil)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// SecurityHeaders sets headers that are right for every response.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// Metrics are the HTTP metrics of one listener.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers HTTP metrics for a listener named server.
func NewMetrics(reg prometheus.Registerer, server string) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
			ConstLabels: prometheus.Labels{"server": server},
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			ConstLabels: prometheus.Labels{"server": server},
			Buckets:     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// statusWriter records the status code.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Observe records metrics and an access log line. The route label is the
// ServeMux pattern that matched, so unbounded paths never become labels.
func Observe(m *Metrics, log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			m.requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(sw.status)).Inc()
			m.latency.WithLabelValues(route).Observe(d.Seconds())
			if log.Enabled(r.Context(), slog.LevelDebug) || sw.status >= 500 {
				meta := audit.MetaFrom(r.Context())
				log.Log(r.Context(), level(sw.status), "request", "method", methodLabel(r.Method), "route", route,
					"status", sw.status, "duration", d, "ip", meta.IP, "request_id", meta.RequestID)
			}
		})
	}
}

// methodLabel bounds the method label: net/http accepts any token as a
// method, and each new label value would be a new series.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "OTHER"
}

func level(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelDebug
}

// Server returns an http.Server with timeouts on every phase.
func Server(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
}

// RequireHTTPS refuses plain-HTTP requests (400, JSON) unless allowed (dev
// mode or a TLS listener) or a trusted proxy says the request came over
// HTTPS. Health probes are exempt: orchestrators call them over plain HTTP.
func RequireHTTPS(p Proxies, allowed bool) Middleware {
	return func(next http.Handler) http.Handler {
		if allowed {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !p.IsHTTPS(r) && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
				protocol.WriteError(w, protocol.ErrInvalidRequest.WithDescription("HTTPS is required"), nil)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
