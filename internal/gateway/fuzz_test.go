package gateway

import (
	"strings"
	"testing"
)

// Hostile routes files and request paths: parsing either never panics, a
// file that compiles routes every path to at most one route, and the path
// sent upstream is always absolute.
func FuzzRoutes(f *testing.F) {
	f.Add([]byte(routesYAML), "/external/company/v1.1/programs")
	f.Add([]byte(routesYAML), "/api/acme/files/a/../b")
	f.Add([]byte(`routes: [{name: a, prefix: "/x/{tenant}", upstream: "http://u", read_scope: a, versions: {default: "1", available: [{version: "1"}]}}]`), "/x/y/V1/")
	f.Add([]byte(`{"routes":[{"name":"a","prefix":"/a","upstream":"http://u/b","read_scope":"s","strip_prefix":true}]}`), "/a")
	f.Fuzz(func(t *testing.T, file []byte, path string) {
		tab, err := Parse(file)
		if err != nil {
			return
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		m, ok := tab.match(path)
		if !ok {
			return
		}
		if !strings.HasPrefix(m.path, "/") {
			t.Errorf("upstream path %q for %q is not absolute", m.path, path)
		}
		if m.route.tenantAt >= 0 && (m.tenant == "" || strings.Contains(m.tenant, "/")) {
			t.Errorf("tenant %q from %q", m.tenant, path)
		}
	})
}
