package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const routesYAML = `
defaults: {read: "300/1m"}
routes:
  - name: programs
    prefix: /external/company
    upstream: http://127.0.0.1:9000/base/
    read_scope: programs:read
    versions:
      default: "1.2"
      available:
        - {version: "1.0", removed: true}
        - {version: "1.1", deprecated: "2026-01-01T00:00:00Z", sunset: "2027-01-01T00:00:00Z"}
        - {version: "1.2"}
        - {version: "2.0", upstream: "http://127.0.0.1:9001"}
  - name: tenant-api
    prefix: /api/{tenant}
    upstream: http://127.0.0.1:9000
    read_scope: api:read
    write_scope: api:write
  - name: tenant-files
    prefix: /api/{tenant}/files
    upstream: http://127.0.0.1:9002/store
    strip_prefix: true
    read_scope: files:read
    timeout: 2m
    rate_limits: {read: "10/1m"}
  - name: public
    prefix: /api/public
    upstream: http://127.0.0.1:9003
    read_scope: docs:read
`

func TestParseRoutes(t *testing.T) {
	tab, err := Parse([]byte(routesYAML))
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Defaults; got.Read != (store.Quota{Count: 300, Per: time.Minute}) || got.Write != DefaultBudgets.Write {
		t.Errorf("defaults = %+v: an absent write default must stay 200/1m", got)
	}
	names := []string{}
	for _, r := range tab.Routes() {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "tenant-files,programs,public,tenant-api" {
		t.Errorf("routes in match order = %v: want longest prefix first", names)
	}
	files := tab.Routes()[0]
	if files.Timeout != 2*time.Minute || files.MaxBody != defaultMaxBody || files.Budgets.Read.Count != 10 {
		t.Errorf("files route = %+v", files)
	}

	// JSON is YAML too.
	if _, err := Parse([]byte(`{"routes":[{"name":"a","prefix":"/a","upstream":"https://up.example","read_scope":"a"}]}`)); err != nil {
		t.Errorf("JSON routes file: %v", err)
	}
}

func TestParseRoutesRefusesMistakes(t *testing.T) {
	for name, tc := range map[string]struct{ file, want string }{
		"unknown field":   {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a, red_scope: b}]`, "unknown field"},
		"no routes":       {`routes: []`, "no routes"},
		"no read scope":   {`routes: [{name: a, prefix: /a, upstream: "http://u"}]`, "read_scope: required"},
		"bad upstream":    {`routes: [{name: a, prefix: /a, upstream: "ftp://u", read_scope: a}]`, "want an absolute http(s) URL"},
		"upstream creds":  {`routes: [{name: a, prefix: /a, upstream: "http://u:p@h", read_scope: a}]`, "no credentials"},
		"trailing slash":  {`routes: [{name: a, prefix: /a/, upstream: "http://u", read_scope: a}]`, "no trailing slash"},
		"dot segment":     {`routes: [{name: a, prefix: /a/../b, upstream: "http://u", read_scope: a}]`, "prefix segment"},
		"root prefix":     {`routes: [{name: a, prefix: /, upstream: "http://u", read_scope: a}]`, "a path of its own"},
		"reserved":        {`routes: [{name: a, prefix: /oauth2/x, upstream: "http://u", read_scope: a}]`, "belongs to Gatehouse"},
		"two tenants":     {`routes: [{name: a, prefix: "/x/{tenant}/{tenant}", upstream: "http://u", read_scope: a}]`, "{tenant} appears twice"},
		"tenant first":    {`routes: [{name: a, prefix: "/{tenant}", upstream: "http://u", read_scope: a}]`, "start with a literal segment"},
		"same name":       {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a}, {name: a, prefix: /b, upstream: "http://u", read_scope: a}]`, "used twice"},
		"same prefix":     {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a}, {name: b, prefix: /a, upstream: "http://u", read_scope: a}]`, "also route"},
		"bad quota":       {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a, rate_limits: {read: "0/1m"}}]`, "COUNT 1 to 1000000"},
		"bad period":      {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a, rate_limits: {write: "5/1ms"}}]`, "PERIOD between 1s and 24h"},
		"bad timeout":     {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a, timeout: "1h"}]`, "timeout: want between"},
		"default missing": {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a, versions: {default: "2", available: [{version: "1"}]}}]`, "default \"2\" is not one"},
		"default removed": {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a, versions: {default: "1", available: [{version: "1", removed: true}]}}]`, "default 1 is removed"},
		"bad sunset":      {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: a, versions: {default: "1", available: [{version: "1", sunset: "soon"}]}}]`, "sunset: want an RFC 3339"},
		"bad scope":       {`routes: [{name: a, prefix: /a, upstream: "http://u", read_scope: "a b"}]`, "read_scope"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseRoutesListsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`routes: [{name: a, prefix: /a, upstream: "ftp://u"}, {name: B, prefix: /b, upstream: "http://u", read_scope: b}]`))
	if err == nil {
		t.Fatal("accepted a bad file")
	}
	for _, want := range []string{`route "a": upstream`, `route "a": read_scope`, `route "B": name`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestMatch(t *testing.T) {
	tab, err := Parse([]byte(routesYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, route, tenant, version, upstream, forward string
	}{
		{"/external/company/programs", "programs", "", "1.2", "http://127.0.0.1:9000/base", "/external/company/v1.2/programs"},
		{"/external/company/v1.1/programs", "programs", "", "1.1", "http://127.0.0.1:9000/base", "/external/company/v1.1/programs"},
		{"/external/company/v2.0/programs/7", "programs", "", "2.0", "http://127.0.0.1:9001", "/external/company/v2.0/programs/7"},
		{"/external/company", "programs", "", "1.2", "http://127.0.0.1:9000/base", "/external/company/v1.2"},
		{"/api/Acme/items/", "tenant-api", "Acme", "", "http://127.0.0.1:9000", "/api/Acme/items/"},
		{"/api/acme/files/a/b.pdf", "tenant-files", "acme", "", "http://127.0.0.1:9002/store", "/a/b.pdf"},
		{"/api/acme/filesx", "tenant-api", "acme", "", "http://127.0.0.1:9000", "/api/acme/filesx"},
		{"/api/public/doc", "public", "", "", "http://127.0.0.1:9003", "/api/public/doc"},
		{"/external/company/V1.1/programs", "programs", "", "1.1", "http://127.0.0.1:9000/base", "/external/company/v1.1/programs"},
	} {
		m, ok := tab.match(tc.path)
		if !ok {
			t.Errorf("%s: no match", tc.path)
			continue
		}
		version := ""
		if m.version != nil {
			version = m.version.Name
		}
		if m.route.Name != tc.route || m.tenant != tc.tenant || version != tc.version || m.upstream().String() != tc.upstream || m.path != tc.forward {
			t.Errorf("%s: got route %s tenant %q version %q upstream %s path %s; want %s %q %q %s %s", tc.path,
				m.route.Name, m.tenant, version, m.upstream(), m.path, tc.route, tc.tenant, tc.version, tc.upstream, tc.forward)
		}
	}
	for _, path := range []string{"/", "/api", "/api/", "/external", "/externalcompany", "/ext/company"} {
		if m, ok := tab.match(path); ok {
			t.Errorf("%s matched route %s", path, m.route.Name)
		}
	}
	m, _ := tab.match("/external/company/v1.0/programs")
	if !m.version.Removed {
		t.Error("v1.0 is removed")
	}
	m, _ = tab.match("/external/company/v9/programs")
	if !m.version.Removed || m.version.Name != "9" {
		t.Errorf("an undeclared version must be treated as gone, got %+v", m.version)
	}
}

func TestToken68(t *testing.T) {
	for s, want := range map[string]bool{
		"abc.DEF-_~+/": true, "gate_at_x": true, "abc==": true, "": false, "=abc": false, "ab=c": false,
		"a b": false, "a\x00": false, "é": false, strings.Repeat("a", 8193): false,
	} {
		if got := token68(s); got != want {
			t.Errorf("token68(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestPolicyHeader(t *testing.T) {
	if got, want := policy(DefaultBudgets), `"read";q=600;w=60, "write";q=200;w=60`; got != want {
		t.Errorf("RateLimit-Policy = %s, want %s", got, want)
	}
}

func TestSpoofableHeaders(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Gatehouse-Subject": true, "x-gatehouse-tenant": true, "X_Gatehouse_Auth": true, "X-GATEHOUSE_SCOPES": true,
		"X_Forwarded_For": true, "Forwarded": false, "X-Forwarded-For": true, "X-Forwarded-Prefix": true, "x-forwarded-ssl": true,
		"Http_Authorization": false,
		"X_Real_IP":          true, "Authorization": false, "X_Custom_Thing": false, "Content-Type": false,
	} {
		if got := spoofable(name); got != want {
			t.Errorf("spoofable(%q) = %v, want %v", name, got, want)
		}
	}
}
