package console

import (
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

// settingsScope is what a user needs for Admin > Settings.
const settingsScope = "company:write"

var errNotOwner = &protocol.Error{Code: "access_denied", Status: http.StatusForbidden,
	Description: "Tenant settings are for administrators of the company (a role that grants company:write)."}

// settingsForm is the settings as the form shows and sends them: durations
// as Go durations ("1h", "720h"), blank for the default.
type settingsForm struct {
	Mode                            string
	Issuer, Audiences, Namespace    string
	RequireTenantClaim              bool
	AccessTokenTTL, SessionLifetime string
	RefreshGrace, PATMaxLifetime    string
	APISessionLifetime, RefreshSkew string
	PATMaxActive, LoginsPerHour     string
	PATForbidNever                  bool
	ReadLimit, WriteLimit           string // "600/1m"
	WebhookURL                      string
	Probe                           *probeResult
}

type probeResult struct {
	OK                     bool
	Issuer, JWKSURI, Error string
	Keys, Algs             string
}

func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func num(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func quota(q store.Quota) string {
	if q == (store.Quota{}) {
		return ""
	}
	return fmt.Sprintf("%d/%s", q.Count, q.Per)
}

func formOf(s *store.TenantSettings) *settingsForm {
	mode := s.UserAuthMode
	if mode == "" {
		mode = store.AuthModePAT
	}
	return &settingsForm{Mode: mode, Issuer: s.IdP.Issuer, Audiences: strings.Join(s.IdP.Audiences, ", "),
		Namespace: s.IdP.ClaimNamespace, RequireTenantClaim: s.IdP.RequireTenantClaim,
		AccessTokenTTL: dur(s.AccessTokenTTL), SessionLifetime: dur(s.SessionLifetime), RefreshGrace: dur(s.RefreshGrace),
		PATMaxLifetime: dur(s.PATMaxLifetime), APISessionLifetime: dur(s.APISessionLifetime), RefreshSkew: dur(s.RefreshSkew),
		PATMaxActive: num(s.PATMaxActive), LoginsPerHour: num(s.APIKeyLoginsPerHour), PATForbidNever: s.PATForbidNever,
		ReadLimit: quota(s.RateLimits.Read), WriteLimit: quota(s.RateLimits.Write), WebhookURL: s.WebhookURL}
}

// read takes the posted form; apply writes it into settings, listing
// what cannot be read (the tenant rules check the rest).
func read(r *http.Request) *settingsForm {
	f := r.PostForm.Get
	return &settingsForm{Mode: f("user_auth_mode"), Issuer: strings.TrimSpace(f("idp_issuer")), Audiences: f("idp_audiences"),
		Namespace: strings.TrimSpace(f("idp_namespace")), RequireTenantClaim: f("idp_require_tenant") == "on",
		AccessTokenTTL: f("access_token_ttl"), SessionLifetime: f("session_lifetime"), RefreshGrace: f("refresh_grace"),
		PATMaxLifetime: f("pat_max_lifetime"), APISessionLifetime: f("api_session_lifetime"), RefreshSkew: f("refresh_skew"),
		PATMaxActive: f("pat_max_active"), LoginsPerHour: f("logins_per_hour"), PATForbidNever: f("pat_forbid_never") == "on",
		ReadLimit: f("read_limit"), WriteLimit: f("write_limit"), WebhookURL: strings.TrimSpace(f("webhook_url"))}
}

func (sf *settingsForm) apply(s *store.TenantSettings) []string {
	var bad []string
	d := func(name, v string, out *time.Duration) {
		if v = strings.TrimSpace(v); v == "" {
			*out = 0
			return
		}
		x, err := time.ParseDuration(v)
		if err != nil {
			bad = append(bad, name+": a duration such as 30s, 1h or 720h, or blank for the default")
			return
		}
		*out = x
	}
	n := func(name, v string, out *int) {
		if v = strings.TrimSpace(v); v == "" {
			*out = 0
			return
		}
		x, err := strconv.Atoi(v)
		if err != nil {
			bad = append(bad, name+": a whole number, or blank for the default")
			return
		}
		*out = x
	}
	q := func(name, v string, out *store.Quota) {
		if v = strings.TrimSpace(v); v == "" {
			*out = store.Quota{}
			return
		}
		c, p, ok := strings.Cut(v, "/")
		count, err1 := strconv.Atoi(c)
		per, err2 := time.ParseDuration(p)
		if !ok || err1 != nil || err2 != nil {
			bad = append(bad, name+": COUNT/DURATION such as 600/1m, or blank to inherit")
			return
		}
		*out = store.Quota{Count: count, Per: per}
	}
	s.UserAuthMode = sf.Mode
	s.IdP = store.IdPSettings{Issuer: sf.Issuer, ClaimNamespace: sf.Namespace, RequireTenantClaim: sf.RequireTenantClaim}
	for _, a := range strings.Split(sf.Audiences, ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.IdP.Audiences = append(s.IdP.Audiences, a)
		}
	}
	d("access token lifetime", sf.AccessTokenTTL, &s.AccessTokenTTL)
	d("session lifetime", sf.SessionLifetime, &s.SessionLifetime)
	d("refresh grace", sf.RefreshGrace, &s.RefreshGrace)
	d("PAT maximum lifetime", sf.PATMaxLifetime, &s.PATMaxLifetime)
	d("API-key session lifetime", sf.APISessionLifetime, &s.APISessionLifetime)
	d("refresh skew", sf.RefreshSkew, &s.RefreshSkew)
	n("active PATs per user", sf.PATMaxActive, &s.PATMaxActive)
	n("logins per API key per hour", sf.LoginsPerHour, &s.APIKeyLoginsPerHour)
	q("read limit", sf.ReadLimit, &s.RateLimits.Read)
	q("write limit", sf.WriteLimit, &s.RateLimits.Write)
	s.PATForbidNever, s.WebhookURL = sf.PATForbidNever, sf.WebhookURL
	return bad
}

// owner runs fn only for a caller whose roles grant settingsScope.
func (h *Handler) owner(fn pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if !c.owner {
			return errNotOwner
		}
		return fn(w, r, c)
	}
}

// settingsPage is Admin > Settings.
func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	v := c.view("Tenant settings")
	v.Settings = formOf(&c.tenant.Settings)
	if r.URL.Query().Get("saved") != "" {
		v.Message = "Settings saved. Every replica applies them within a second."
	}
	h.render(w, r, http.StatusOK, "settings", v)
	return nil
}

// saveSettings validates the whole form and saves it in one change
// (audited), or shows it again with every problem and saves nothing. The
// form is applied to the tenant as read in the update's transaction, so
// settings it does not show are never overwritten by a stale copy.
func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	sf := read(r)
	scratch := c.tenant.Settings
	if problems := sf.apply(&scratch); len(problems) > 0 {
		return h.formProblems(w, r, c, sf, problems)
	}
	_, err := h.TenantService.Update(r.Context(), c.tenant.ID, func(t *store.Tenant) { sf.apply(&t.Settings) },
		h.event(r, c, audit.TenantUpdate, c.tenant.Name))
	var inv *tenants.InvalidError
	if errors.As(err, &inv) {
		return h.formProblems(w, r, c, sf, inv.Problems)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, c.path("settings?saved=1"), http.StatusSeeOther)
	return nil
}

func (h *Handler) formProblems(w http.ResponseWriter, r *http.Request, c *caller, sf *settingsForm, problems []string) error {
	v := c.view("Tenant settings")
	v.Settings, v.Error = sf, "Not saved: "+strings.Join(problems, "; ")+"."
	h.render(w, r, http.StatusBadRequest, "settings", v)
	return nil
}

// testIdP fetches the issuer's discovery document and keys (through the
// SSRF-guarded client) and shows what it found, keeping the form as typed.
func (h *Handler) testIdP(w http.ResponseWriter, r *http.Request, c *caller) error {
	sf := read(r)
	v := c.view("Tenant settings")
	v.Settings = sf
	res := &probeResult{Issuer: sf.Issuer}
	if sf.Issuer == "" {
		res.Error = "Enter the issuer URL first."
	} else if m, kids, err := federation.Probe(r.Context(), h.Egress, sf.Issuer); err != nil {
		h.Log.Info("console: identity provider test failed", "tenant", c.tenant.Name, "err", err)
		res.Error = egress.Describe(err) // the policy, never the addresses behind it
		if res.Error == err.Error() {
			res.Error = protocol.Clean(res.Error, 300)
		}
		if m != nil {
			res.JWKSURI = m.JWKSURI
		}
	} else {
		res.OK, res.JWKSURI, res.Keys, res.Algs = true, m.JWKSURI, strings.Join(kids, ", "), strings.Join(m.Algs, ", ")
	}
	sf.Probe = res
	h.render(w, r, http.StatusOK, "settings", v)
	return nil
}
