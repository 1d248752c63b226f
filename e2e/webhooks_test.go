package e2e

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/webhook"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// receiver is a tenant's webhook endpoint: it checks every delivery's
// signature with the secret the admin API shows and keeps the envelopes.
type receiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	got    []webhook.Envelope
	bad    int // deliveries whose signature did not verify
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if webhook.Verify(rc.secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body, r.Header.Get("webhook-signature")) != nil {
			rc.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var e webhook.Envelope
		json.Unmarshal(body, &e)
		rc.got = append(rc.got, e)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// of returns the envelopes of one type received so far.
func (rc *receiver) of(typ string) []webhook.Envelope {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []webhook.Envelope
	for _, e := range rc.got {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// A tenant's webhook hears, signed: a ping on request, a throttled API
// key (once per hour of throttling), users' API access changing, and PATs
// seven days and one day before they expire. Both backends.
func TestTenantWebhooks(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(t *testing.T) string) {
		s := apptest.Start(t, db(t), func(c *config.Config) { c.EgressAllowPrivate = true })
		rc := newReceiver(t)
		u := patUser(t, s, "acme", "ada@acme.example")

		if _, err := s.Admin.PingWebhook(ctx, "acme"); err == nil {
			t.Fatal("a ping without a webhook_url must fail")
		}
		setTenant(t, s, admin.TenantSettingsInput{WebhookURL: &rc.URL, APIKeyLoginsPerHour: ptr(1)})
		hook, err := s.Admin.GetWebhook(ctx, "acme")
		if err != nil || hook.URL != rc.URL || len(hook.SigningSecret) < 40 {
			t.Fatalf("GetWebhook = %+v, %v", hook, err)
		}
		rc.mu.Lock()
		rc.secret = hook.SigningSecret
		rc.mu.Unlock()

		d, err := s.Admin.PingWebhook(ctx, "acme")
		if err != nil || d.Status != "delivered" || d.Attempts != 1 || d.DeliveredAt == nil {
			t.Fatalf("PingWebhook = %+v, %v", d, err)
		}
		if p := rc.of("ping"); len(p) != 1 || p[0].ID != d.ID || p[0].Tenant != "acme" {
			t.Fatalf("pings received: %+v", p)
		}

		// A throttled key: three refused logins, one alert.
		key, err := s.Admin.CreateAPIKey(ctx, "acme", admin.APIKeyInput{Name: "backend", UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		login(t, s, key.Key)
		for range 3 {
			if r := post(t, s, "/auth/login", map[string]string{"api_key": key.Key}); r.Status != 429 {
				t.Fatalf("login over the threshold: %d", r.Status)
			}
		}
		waitFor(t, func() bool { return len(rc.of(webhook.TypeAPIKeyLoginThrottled)) == 1 })
		var th webhook.APIKeyLoginThrottled
		json.Unmarshal(rc.of(webhook.TypeAPIKeyLoginThrottled)[0].Data, &th)
		if th.APIKeyID != key.ID || th.LoginsPerHour != 1 || th.RetryAfterSeconds < 1 {
			t.Errorf("throttle alert: %+v", th)
		}

		week := mintPAT(t, s, u, "7d") // for the expiry notices below
		month := mintPAT(t, s, u, "30d")

		// API access turned off for the user.
		if err := s.Admin.SetAPIAccess(ctx, "acme", []string{u.ID}, false); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return len(rc.of(webhook.TypeAPIAccessChanged)) == 1 })
		var ac webhook.APIAccessChanged
		json.Unmarshal(rc.of(webhook.TypeAPIAccessChanged)[0].Data, &ac)
		if ac.Enabled || len(ac.UserIDs) != 1 || ac.UserIDs[0] != u.ID {
			t.Errorf("api access change: %+v", ac)
		}

		// PAT expiry notices: a 7-day token gets its 7-day notice; a
		// 30-day token none yet, then (moved to 12 hours from expiry) its
		// 1-day notice; each once, however often the scan runs.
		for range 2 {
			if _, err := s.Webhooks.ScanPATExpiry(ctx); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, func() bool { return len(rc.of(webhook.TypePATExpiring)) == 1 })
		sqlDB := store.Unwrap(s.Store).(interface{ SQL() *sql.DB }).SQL()
		if _, err := sqlDB.Exec(`UPDATE pats SET expires_at = $1 WHERE id = $2`, time.Now().Add(12*time.Hour).UnixMicro(), month.PAT.ID); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := s.Webhooks.ScanPATExpiry(ctx); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, func() bool { return len(rc.of(webhook.TypePATExpiring)) == 2 })
		notices := map[string]int{}
		for _, e := range rc.of(webhook.TypePATExpiring) {
			var n struct {
				PATID    string `json:"pat_id"`
				DaysLeft int    `json:"days_left"`
			}
			json.Unmarshal(e.Data, &n)
			notices[n.PATID] = n.DaysLeft
		}
		if notices[week.PAT.ID] != 7 || notices[month.PAT.ID] != 1 {
			t.Errorf("PAT notices: %v (7d token %s, 30d token %s)", notices, week.PAT.ID, month.PAT.ID)
		}
		time.Sleep(200 * time.Millisecond) // a duplicate, were there one, would be delivered by now
		if n := len(rc.of(webhook.TypePATExpiring)); n != 2 {
			t.Errorf("%d PAT notices, want 2", n)
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.bad != 0 {
			t.Errorf("%d deliveries failed signature verification", rc.bad)
		}
	})
}
