package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// File is the routes file (--routes), YAML or JSON; docs/gateway.md has an
// annotated example.
type File struct {
	// Defaults are the server-wide budgets; tenants and clients may
	// override them. Absent: 600/1m read, 200/1m write.
	Defaults *RateConfig   `json:"defaults,omitempty"`
	Routes   []RouteConfig `json:"routes"`
}

// RouteConfig is one route as written in the file.
type RouteConfig struct {
	// Name labels the route in metrics, logs and rate-limit policies.
	Name string `json:"name"`
	// Prefix is the path the route owns, e.g. /api/{tenant}/submissions;
	// the {tenant} segment, if present, names the tenant acted on.
	Prefix string `json:"prefix"`
	// Upstream is the base URL requests are forwarded to; the request path
	// is appended to its path (minus the prefix with StripPrefix).
	Upstream    string `json:"upstream"`
	StripPrefix bool   `json:"strip_prefix,omitempty"`
	// ReadScope is required for GET, HEAD and OPTIONS; WriteScope for POST,
	// PUT, PATCH and DELETE. Without a WriteScope the route is read-only.
	ReadScope  string `json:"read_scope"`
	WriteScope string `json:"write_scope,omitempty"`
	// Audiences, when set, are the token audiences (RFC 9068 aud) this API
	// accepts; a token for another API is refused as invalid_token.
	Audiences []string `json:"audiences,omitempty"`
	// RateLimits, when set, replace the caller's budgets on this route
	// with a budget of the route's own.
	RateLimits *RateConfig `json:"rate_limits,omitempty"`
	// Timeout bounds the wait for the upstream's response headers
	// (default 30s); the body then streams for as long as it takes.
	Timeout Duration `json:"timeout,omitempty"`
	// MaxBodyBytes bounds request bodies (default 10 MiB).
	MaxBodyBytes int64           `json:"max_body_bytes,omitempty"`
	Versions     *VersionsConfig `json:"versions,omitempty"`
}

// RateConfig is a pair of budgets written as "COUNT/PERIOD", e.g. "600/1m".
type RateConfig struct {
	Read  string `json:"read,omitempty"`
	Write string `json:"write,omitempty"`
}

// VersionsConfig declares a route's API versions: the path segment after
// the prefix may be vN[.N...]; without one, the default applies.
type VersionsConfig struct {
	Default   string          `json:"default"`
	Available []VersionConfig `json:"available"`
}

// VersionConfig is one API version.
type VersionConfig struct {
	Version string `json:"version"` // "1.2" (written v1.2 in paths)
	// Deprecated, when set, is the RFC 3339 time the version was (or will
	// be) deprecated; responses carry Deprecation (RFC 9745) from then.
	Deprecated string `json:"deprecated,omitempty"`
	// Sunset is when the version goes away (RFC 8594 Sunset header).
	Sunset string `json:"sunset,omitempty"`
	// Removed versions answer 410 Gone naming the default version.
	Removed bool `json:"removed,omitempty"`
	// Upstream, when set, overrides the route's upstream for this version.
	Upstream string `json:"upstream,omitempty"`
}

// Duration is a time.Duration written as "30s" in the file.
type Duration time.Duration

// UnmarshalJSON reads "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration such as "30s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// DefaultBudgets are the reference documents' limits: 600 reads and 200
// writes a minute.
var DefaultBudgets = store.RateLimits{
	Read:  store.Quota{Count: 600, Per: time.Minute},
	Write: store.Quota{Count: 200, Per: time.Minute},
}

const (
	defaultTimeout = 30 * time.Second
	defaultMaxBody = 10 << 20
	maxRoutesFile  = 1 << 20
)

// LoadFile reads and compiles a routes file.
func LoadFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("routes file: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if n, err := buf.ReadFrom(io.LimitReader(f, maxRoutesFile+1)); err != nil {
		return nil, fmt.Errorf("routes file: %w", err)
	} else if n > maxRoutesFile {
		return nil, fmt.Errorf("routes file %s: larger than %d bytes", path, maxRoutesFile)
	}
	t, err := Parse(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("routes file %s: %w", path, err)
	}
	return t, nil
}

// Parse compiles a routes file's contents (YAML, of which JSON is a
// subset). Unknown fields are errors, so a typo cannot silently drop a
// scope requirement; every problem is reported at once.
func Parse(b []byte) (*Table, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	return f.Compile()
}

var (
	namePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	segmentPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	versionPattern = regexp.MustCompile(`^[0-9]{1,4}(\.[0-9]{1,4}){0,2}$`)
	scopePattern   = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]+$`) // RFC 6749 §3.3 scope-token
)

// Compile validates the file and builds the routing table.
func (f *File) Compile() (*Table, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	t := &Table{Defaults: DefaultBudgets}
	if f.Defaults != nil {
		d, err := f.Defaults.budgets()
		if err != nil {
			bad("defaults: %v", err)
		}
		t.Defaults = fill(d, DefaultBudgets)
	}
	if len(f.Routes) == 0 {
		bad("no routes")
	}
	names := map[string]bool{}
	prefixes := map[string]string{}
	for i, rc := range f.Routes {
		r, problems := rc.compile()
		where := fmt.Sprintf("route %d", i+1)
		if rc.Name != "" {
			where = fmt.Sprintf("route %q", rc.Name)
		}
		for _, p := range problems {
			bad("%s: %s", where, p)
		}
		if r == nil {
			continue
		}
		if names[r.Name] {
			bad("%s: the name is used twice", where)
		}
		names[r.Name] = true
		key := strings.Join(r.pattern, "/")
		if other, ok := prefixes[key]; ok {
			bad("%s: prefix %s is also route %q's", where, rc.Prefix, other)
		}
		prefixes[key] = r.Name
		t.routes = append(t.routes, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Most specific first: longer prefixes, then, at the first segment
	// where one has a literal and the other {tenant}, the literal; so
	// /api/public wins over /api/{tenant} whatever their order in the file.
	slices.SortStableFunc(t.routes, func(a, b *Route) int {
		if d := len(b.pattern) - len(a.pattern); d != 0 {
			return d
		}
		for i := range a.pattern {
			if at, bt := i == a.tenantAt, i == b.tenantAt; at != bt {
				if at {
					return 1
				}
				return -1
			}
		}
		return 0
	})
	return t, nil
}

func (rc *RouteConfig) compile() (*Route, []string) {
	var bad []string
	r := &Route{Name: rc.Name, ReadScope: rc.ReadScope, WriteScope: rc.WriteScope, StripPrefix: rc.StripPrefix,
		Timeout: time.Duration(rc.Timeout), MaxBody: rc.MaxBodyBytes, tenantAt: -1}
	if !namePattern.MatchString(rc.Name) {
		bad = append(bad, "name: want lower-case letters, digits, '.', '_' or '-' (at most 63)")
	}
	if !strings.HasPrefix(rc.Prefix, "/") || strings.HasSuffix(rc.Prefix, "/") && rc.Prefix != "/" {
		bad = append(bad, fmt.Sprintf("prefix %q: want /segment[/segment...] with no trailing slash", rc.Prefix))
	} else {
		for i, seg := range strings.Split(strings.Trim(rc.Prefix, "/"), "/") {
			switch {
			case seg == "":
				if rc.Prefix != "/" {
					bad = append(bad, fmt.Sprintf("prefix %q: empty segment", rc.Prefix))
				}
				continue
			case seg == "{tenant}":
				if r.tenantAt >= 0 {
					bad = append(bad, "prefix: {tenant} appears twice")
				}
				r.tenantAt = i
			case !segmentPattern.MatchString(seg) || seg == "." || seg == "..":
				bad = append(bad, fmt.Sprintf("prefix segment %q: want letters, digits, '.', '_', '~' or '-'", seg))
			}
			r.pattern = append(r.pattern, seg)
		}
		for _, reserved := range []string{"oauth2", ".well-known", "healthz", "readyz", "auth", "console"} {
			if len(r.pattern) > 0 && r.pattern[0] == reserved {
				bad = append(bad, fmt.Sprintf("prefix %q: /%s belongs to Gatehouse itself", rc.Prefix, reserved))
			}
		}
		if len(r.pattern) == 0 {
			bad = append(bad, `prefix "/": a route must own a path of its own`)
		} else if r.tenantAt == 0 {
			bad = append(bad, "prefix: start with a literal segment, not {tenant} (e.g. /api/{tenant})")
		}
	}
	var err error
	if r.Upstream, err = upstreamURL(rc.Upstream); err != nil {
		bad = append(bad, "upstream: "+err.Error())
	}
	if !scopePattern.MatchString(rc.ReadScope) {
		bad = append(bad, "read_scope: required, one scope token")
	}
	if rc.WriteScope != "" && !scopePattern.MatchString(rc.WriteScope) {
		bad = append(bad, "write_scope: want one scope token")
	}
	for _, a := range rc.Audiences {
		if a == "" || !protocol.Printable(a) {
			bad = append(bad, "audiences: want non-empty printable values")
		}
	}
	r.Audiences = rc.Audiences
	if r.Timeout == 0 {
		r.Timeout = defaultTimeout
	} else if r.Timeout < 100*time.Millisecond || r.Timeout > 10*time.Minute {
		bad = append(bad, "timeout: want between 100ms and 10m")
	}
	if r.MaxBody == 0 {
		r.MaxBody = defaultMaxBody
	} else if r.MaxBody < 0 || r.MaxBody > 1<<30 {
		bad = append(bad, "max_body_bytes: want between 1 and 1 GiB")
	}
	if rc.RateLimits != nil {
		b, err := rc.RateLimits.budgets()
		if err != nil {
			bad = append(bad, "rate_limits: "+err.Error())
		}
		r.Budgets = &b
	}
	if rc.Versions != nil {
		bad = append(bad, r.compileVersions(rc.Versions)...)
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return r, nil
}

func (r *Route) compileVersions(vc *VersionsConfig) []string {
	var bad []string
	r.versions = map[string]*Version{}
	for _, v := range vc.Available {
		if !versionPattern.MatchString(v.Version) {
			bad = append(bad, fmt.Sprintf("version %q: want digits and dots, e.g. 1.2", v.Version))
			continue
		}
		if r.versions[v.Version] != nil {
			bad = append(bad, fmt.Sprintf("version %s: declared twice", v.Version))
		}
		ver := &Version{Name: v.Version, Removed: v.Removed}
		var err error
		if v.Deprecated != "" {
			if ver.Deprecated, err = time.Parse(time.RFC3339, v.Deprecated); err != nil {
				bad = append(bad, fmt.Sprintf("version %s: deprecated: want an RFC 3339 time", v.Version))
			}
		}
		if v.Sunset != "" {
			if ver.Sunset, err = time.Parse(time.RFC3339, v.Sunset); err != nil {
				bad = append(bad, fmt.Sprintf("version %s: sunset: want an RFC 3339 time", v.Version))
			}
		}
		if v.Upstream != "" {
			if ver.Upstream, err = upstreamURL(v.Upstream); err != nil {
				bad = append(bad, fmt.Sprintf("version %s: upstream: %v", v.Version, err))
			}
		}
		r.versions[v.Version] = ver
	}
	def := r.versions[vc.Default]
	switch {
	case len(vc.Available) == 0:
		bad = append(bad, "versions: none available")
	case def == nil:
		bad = append(bad, fmt.Sprintf("versions: default %q is not one of those available", vc.Default))
	case def.Removed:
		bad = append(bad, fmt.Sprintf("versions: default %s is removed", vc.Default))
	}
	r.defaultVersion = def
	return bad
}

func upstreamURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("%q: want an absolute http(s) URL", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q: no credentials, query or fragment", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func (rc *RateConfig) budgets() (store.RateLimits, error) {
	var b store.RateLimits
	var errs []error
	for _, f := range []struct {
		name string
		in   string
		out  *store.Quota
	}{{"read", rc.Read, &b.Read}, {"write", rc.Write, &b.Write}} {
		if f.in == "" {
			continue
		}
		q, err := ParseQuota(f.in)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
		*f.out = q
	}
	return b, errors.Join(errs...)
}

// ParseQuota reads "COUNT/PERIOD", e.g. "600/1m".
func ParseQuota(s string) (store.Quota, error) {
	c, p, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(c)
	if !ok || err != nil || n < 1 || n > 1_000_000 {
		return store.Quota{}, fmt.Errorf("%q: want COUNT/PERIOD with COUNT 1 to 1000000, e.g. 600/1m", s)
	}
	d, err := time.ParseDuration(p)
	if err != nil || d < time.Second || d > 24*time.Hour {
		return store.Quota{}, fmt.Errorf("%q: want a PERIOD between 1s and 24h, e.g. 600/1m", s)
	}
	return store.Quota{Count: n, Per: d}, nil
}

// fill returns b with zero quotas taken from def.
func fill(b, def store.RateLimits) store.RateLimits {
	if b.Read.Count == 0 {
		b.Read = def.Read
	}
	if b.Write.Count == 0 {
		b.Write = def.Write
	}
	return b
}

func limit(q store.Quota) ratelimit.Limit { return ratelimit.Limit{Count: q.Count, Period: q.Per} }
