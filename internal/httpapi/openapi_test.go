package httpapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sdk/admin"
)

type document struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadDoc(t *testing.T) document {
	t.Helper()
	var d document
	if err := json.Unmarshal(OpenAPI(), &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", d.OpenAPI)
	}
	return d
}

// Operations lists "METHOD path" for every operation in the document.
func Operations(t *testing.T) []string {
	var ops []string
	for path, item := range loadDoc(t).Paths {
		for method := range item {
			if method == "parameters" {
				continue
			}
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// Every route is documented and every documented operation is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var routes []string
	for _, r := range Routes {
		routes = append(routes, r.Method+" "+r.Pattern)
	}
	sort.Strings(routes)
	docOps := Operations(t)
	for _, r := range routes {
		if !slices.Contains(docOps, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, op := range docOps {
		if !slices.Contains(routes, op) {
			t.Errorf("openapi.json documents %s, which is not a route", op)
		}
	}
}

// The schemas name exactly the JSON fields of the wire types.
func TestOpenAPISchemasMatchWireTypes(t *testing.T) {
	d := loadDoc(t)
	// A schema shared by an output type and its *Input twin must match both.
	for _, c := range []struct {
		name string
		v    any
	}{
		{"Tenant", admin.Tenant{}}, {"TenantSettings", admin.TenantSettings{}}, {"TenantSettings", admin.TenantSettingsInput{}},
		{"TenantInput", admin.TenantInput{}}, {"Client", admin.Client{}}, {"ClientInput", admin.ClientInput{}},
		{"Quota", admin.Quota{}}, {"RateLimits", admin.RateLimits{}}, {"RateLimits", admin.RateLimitsInput{}},
		{"SecretInfo", admin.SecretInfo{}}, {"RotateInput", admin.RotateInput{}}, {"RotateOutput", admin.RotateOutput{}},
		{"Event", admin.Event{}}, {"Key", admin.Key{}}, {"RotateKeyInput", admin.RotateKeyInput{}}, {"LinkInput", admin.LinkInput{}}, {"Link", admin.Link{}}, {"Error", admin.Error{}},
		{"User", admin.User{}}, {"UserInput", admin.UserInput{}}, {"APIAccessInput", admin.APIAccessInput{}},
		{"Group", admin.Group{}}, {"GroupInput", admin.GroupInput{}}, {"Role", admin.Role{}}, {"RoleInput", admin.RoleInput{}},
		{"PersonalToken", admin.PersonalToken{}}, {"PersonalTokenInput", admin.PersonalTokenInput{}},
		{"ConsentGrant", admin.ConsentGrant{}},
	} {
		name, v := c.name, c.v
		schema, ok := d.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var want []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
			if tag != "" && tag != "-" {
				want = append(want, tag)
			}
		}
		var got []string
		for p := range schema.Properties {
			got = append(got, p)
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s has %v, the wire type has %v", name, got, want)
		}
	}
}
