package gateway

import (
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Table is a compiled, immutable routing table; the gateway swaps tables
// whole on reload.
type Table struct {
	Defaults store.RateLimits
	routes   []*Route // longest prefix first
}

// Route is one compiled route.
type Route struct {
	Name        string
	Upstream    *url.URL
	StripPrefix bool
	ReadScope   string
	WriteScope  string
	Audiences   []string          // accepted token audiences; nil: any
	Budgets     *store.RateLimits // the route's own budgets, or nil
	Timeout     time.Duration
	MaxBody     int64

	pattern        []string // prefix segments; "{tenant}" at tenantAt
	tenantAt       int      // -1: no tenant segment
	versions       map[string]*Version
	defaultVersion *Version
	proxy          *httputil.ReverseProxy // set when the table is installed
}

// Version is one API version of a route.
type Version struct {
	Name       string
	Deprecated time.Time // zero: not deprecated
	Sunset     time.Time // zero: no sunset announced
	Removed    bool
	Upstream   *url.URL // nil: the route's
}

// Routes returns the table's routes, longest prefix first.
func (t *Table) Routes() []*Route { return t.routes }

// match is a request resolved against the table.
type match struct {
	route   *Route
	tenant  string   // "" when the route has no tenant segment
	version *Version // nil when the route declares no versions
	path    string   // the path to send upstream (before the upstream's base path)
}

var pathVersion = regexp.MustCompile(`^[vV]([0-9]{1,4}(\.[0-9]{1,4}){0,2})$`)

// match finds the route owning path (a cleaned, decoded URL path).
func (t *Table) match(path string) (match, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, r := range t.routes {
		if m, ok := r.match(segs); ok {
			return m, true
		}
	}
	return match{}, false
}

func (r *Route) match(segs []string) (match, bool) {
	if len(segs) < len(r.pattern) {
		return match{}, false
	}
	m := match{route: r}
	for i, p := range r.pattern {
		switch {
		case i == r.tenantAt:
			if segs[i] == "" {
				return match{}, false
			}
			m.tenant = segs[i]
		case segs[i] != p:
			return match{}, false
		}
	}
	rest := segs[len(r.pattern):]
	if r.versions != nil {
		m.version = r.defaultVersion
		if len(rest) > 0 {
			if v := pathVersion.FindStringSubmatch(rest[0]); v != nil {
				m.version = r.versions[v[1]]
				if m.version == nil {
					// An unknown version is gone, or never was: both 410
					// naming the current one is more useful than a 404.
					m.version = &Version{Name: v[1], Removed: true}
				}
				rest = rest[1:]
			}
		}
		// The upstream always sees the version it is asked to serve.
		rest = append([]string{"v" + m.version.Name}, rest...)
	}
	prefix := segs[:len(r.pattern)]
	if r.StripPrefix {
		prefix = nil
	}
	m.path = "/" + strings.Join(append(append([]string(nil), prefix...), rest...), "/")
	return m, true
}

// upstream is where a matched request goes.
func (m *match) upstream() *url.URL {
	if m.version != nil && m.version.Upstream != nil {
		return m.version.Upstream
	}
	return m.route.Upstream
}

// TenantGrants are the scopes and audiences of the routes that carry
// {tenant}: what a tenant's administrators may give their clients and
// roles unless the operator says otherwise (tenants.HandOut).
func (t *Table) TenantGrants() (scopes, audiences []string) {
	for _, r := range t.routes {
		if r.tenantAt < 0 {
			continue
		}
		for _, s := range []string{r.ReadScope, r.WriteScope} {
			if s != "" && !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		for _, a := range r.Audiences {
			if !slices.Contains(audiences, a) {
				audiences = append(audiences, a)
			}
		}
	}
	slices.Sort(scopes)
	slices.Sort(audiences)
	return scopes, audiences
}
