package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gatehouse/gatehouse/"

// rank is each package's layer: a package may import only packages of a
// lower or equal layer (cmd → app → transport → domain → store).
var rank = map[string]int{
	"internal/secret": 0, "internal/protocol": 0, "internal/egress": 0, "internal/demoapi": 0, "internal/ratelimit": 0, "internal/loadgen": 0,
	"internal/credential": 0, "internal/problem": 0, "internal/cache": 0, "internal/revocation": 0,
	"internal/store": 1, "internal/store/sqlstore": 1, "internal/store/sqlite": 1, "internal/store/postgres": 1,
	"internal/store/postgres/pgtest": 1, "internal/store/storetest": 1,
	"internal/clients": 2, "internal/tenants": 2, "internal/keys": 2, "internal/token": 2, "internal/audit": 2, "internal/webhook": 2,
	"internal/authn": 2, "internal/sessions": 2, "internal/websession": 2, "internal/users": 2, "internal/pats": 2, "internal/consents": 2, "internal/apikeys": 2, "internal/federation": 2, "internal/federation/idptest": 2,
	"internal/httpx": 3, "internal/authserver": 3, "internal/httpapi": 3, "internal/config": 3,
	"internal/gateway": 3, "internal/selfservice": 3, "internal/apisession": 3, "internal/console": 3,
	"internal/app":     4,
	"internal/apptest": 5, "cmd/gatehouse": 5, "e2e": 5,
	"sdk": 0, "sdk/admin": 0, "web": 0,
}

// surfaces must not import each other.
var surfaces = []string{"internal/authserver", "internal/httpapi", "internal/gateway", "internal/selfservice", "internal/apisession", "internal/console"}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		pkg := strings.TrimPrefix(parts[0], module)
		r, ok := rank[pkg]
		if !ok {
			t.Errorf("package %s has no layer in TestLayering: add it", pkg)
			continue
		}
		prod := strings.Fields(parts[1])
		for i, imp := range append(prod, strings.Fields(parts[2])...) {
			testOnly := i >= len(prod)
			dep, ours := strings.CutPrefix(imp, module)
			if !ours || dep == pkg {
				continue
			}
			if (pkg == "sdk" || strings.HasPrefix(pkg, "sdk/")) && strings.HasPrefix(dep, "internal/") {
				t.Errorf("%s imports %s: the SDK must not import internal packages", pkg, dep)
			}
			if dr, ok := rank[dep]; ok && dr > r && !(testOnly && startsTheApp(dep)) {
				t.Errorf("%s (layer %d) imports %s (layer %d): dependencies must point down", pkg, r, dep, dr)
			}
			for _, a := range surfaces {
				for _, b := range surfaces {
					if a != b && pkg == a && dep == b {
						t.Errorf("%s imports %s: HTTP surfaces must not import each other", a, b)
					}
				}
			}
		}
	}
}

// startsTheApp allows tests of a lower layer to start the real app.
func startsTheApp(dep string) bool { return dep == "internal/apptest" || dep == "internal/app" }
