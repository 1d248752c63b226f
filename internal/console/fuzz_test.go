package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

// Admin > Settings is a form a tenant owner posts (and anyone can forge).
// Whatever the body, reading it never panics, and settings it yields that
// the tenant rules accept are shown again as a form that, posted back
// unchanged, yields the same settings. The same holds for any settings the
// tenant rules accept however they were set (the admin API, the CLI):
// saving the page without touching a field changes nothing.
func FuzzSettingsForm(f *testing.F) {
	f.Add("user_auth_mode=oauth&idp_issuer=https://idp.example/&idp_audiences=a,+b&idp_namespace=https://example.com&idp_require_tenant=on&access_token_ttl=1h&read_limit=600/1m",
		`{"access_token_ttl":3600000000000,"idp":{"audiences":["a","b"]}}`)
	f.Add("user_auth_mode=pat&session_lifetime=90m&refresh_grace=1.5s&pat_max_active=+12&logins_per_hour=20&write_limit=5/1h30m&webhook_url=+https://hooks.example/x+&pat_forbid_never=on",
		`{"rate_limits":{"read":{"count":5,"per":1000000000}},"webhook_url":"https://hooks.example/x"}`)
	f.Add("access_token_ttl=1d&read_limit=600&write_limit=/1m&pat_max_active=x", `{"idp":{"audiences":["https://api.example.com/a,b"]}}`)
	f.Add("idp_audiences=,,&api_session_lifetime=-5m&refresh_skew=9223372036854775807ns", `{"user_auth_mode":"","idp":{"issuer":"https://idp.example/ "}}`)
	f.Add("%zz", `[]`)
	f.Fuzz(func(t *testing.T, body, settingsJSON string) {
		if vals, err := url.ParseQuery(body); err == nil {
			var s store.TenantSettings
			if bad := read(posted(vals)).apply(&s); len(bad) == 0 && tenants.Validate(&store.Tenant{Name: "acme", Settings: s}) == nil {
				checkRoundTrip(t, s)
			}
		}
		var s store.TenantSettings
		if json.Unmarshal([]byte(settingsJSON), &s) == nil && tenants.Validate(&store.Tenant{Name: "acme", Settings: s}) == nil {
			checkRoundTrip(t, s)
		}
	})
}

// posted is a request whose form has been parsed.
func posted(vals url.Values) *http.Request {
	return &http.Request{Method: http.MethodPost, PostForm: vals}
}

// checkRoundTrip shows s as the form does, posts the form back as a
// browser would, and compares.
func checkRoundTrip(t *testing.T, s store.TenantSettings) {
	t.Helper()
	sf := formOf(&s)
	vals := url.Values{"user_auth_mode": {sf.Mode}, "idp_issuer": {sf.Issuer}, "idp_audiences": {sf.Audiences},
		"idp_namespace": {sf.Namespace}, "access_token_ttl": {sf.AccessTokenTTL}, "session_lifetime": {sf.SessionLifetime},
		"refresh_grace": {sf.RefreshGrace}, "api_session_lifetime": {sf.APISessionLifetime}, "refresh_skew": {sf.RefreshSkew},
		"logins_per_hour": {sf.LoginsPerHour}, "pat_max_active": {sf.PATMaxActive}, "pat_max_lifetime": {sf.PATMaxLifetime},
		"read_limit": {sf.ReadLimit}, "write_limit": {sf.WriteLimit}, "webhook_url": {sf.WebhookURL}}
	if sf.RequireTenantClaim {
		vals.Set("idp_require_tenant", "on")
	}
	if sf.PATForbidNever {
		vals.Set("pat_forbid_never", "on")
	}
	again := s
	if bad := read(posted(vals)).apply(&again); len(bad) > 0 {
		t.Fatalf("settings %+v shown as %+v read back with problems %q", s, sf, bad)
	}
	want, got := normal(s), normal(again)
	if reflect.DeepEqual(want, got) {
		return
	}
	t.Fatalf("settings %+v, shown as %+v and posted back, became %+v", want, sf, got)
}

// normal folds what means the same: "" and "pat" modes, nil and empty
// audience lists.
func normal(s store.TenantSettings) store.TenantSettings {
	if s.UserAuthMode == "" {
		s.UserAuthMode = store.AuthModePAT
	}
	if len(s.IdP.Audiences) == 0 {
		s.IdP.Audiences = nil
	}
	return s
}
