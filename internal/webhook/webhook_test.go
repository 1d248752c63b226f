package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

var ctx = context.Background()

const day = 24 * time.Hour

// delivery is one request the receiver got.
type delivery struct {
	Header http.Header
	Body   []byte
	Env    webhook.Envelope
}

// receiver records deliveries and answers the n-th (0-based) with
// status(n); nil answers 204.
type receiver struct {
	*httptest.Server
	status func(n int) int

	mu  sync.Mutex
	got []delivery
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{Header: req.Header.Clone(), Body: body}
		if err := json.Unmarshal(body, &d.Env); err != nil {
			t.Errorf("delivery body %q: %v", body, err)
		}
		r.mu.Lock()
		status := http.StatusNoContent
		if r.status != nil {
			status = r.status(len(r.got))
		}
		r.got = append(r.got, d)
		r.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/moved")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// answer sets how the receiver answers the n-th delivery.
func (r *receiver) answer(status func(n int) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = status
}

// failFirst answers the first delivery with status, the others with 200.
func failFirst(status int) func(int) int {
	return func(n int) int {
		if n == 0 {
			return status
		}
		return http.StatusOK
	}
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

type fixture struct {
	svc   *webhook.Service
	store store.Store
	recv  *receiver
	clock time.Time
}

const tenant, quiet = "tn_acme", "tn_quiet"

// tenantKey is a tenant's signing key in these tests.
func tenantKey(tenantID string) []byte { return []byte("0123456789abcdef0123456789abcdef" + tenantID) }

func newFixture(t *testing.T, timeout time.Duration) *fixture {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s, recv: newReceiver(t), clock: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	for id, url := range map[string]string{tenant: f.recv.URL + "/hook?token=receivers-own", quiet: ""} {
		tn := &store.Tenant{ID: id, Name: id[3:], Settings: store.TenantSettings{WebhookURL: url}, CreatedAt: f.clock, UpdatedAt: f.clock}
		if err := s.CreateTenant(ctx, tn, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	f.svc = &webhook.Service{
		Store:  s,
		Client: egress.New(egress.Options{AllowHTTP: true, AllowPrivate: true, Timeout: timeout}),
		Secret: tenantKey,
		Now:    func() time.Time { return f.clock },
	}
	return f
}

func (f *fixture) deliverDue(t *testing.T) int {
	t.Helper()
	n, err := f.svc.DeliverDue(ctx)
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	return n
}

func (f *fixture) event(t *testing.T, id string) *store.WebhookEvent {
	t.Helper()
	e, err := f.svc.Status(ctx, tenant, id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	return e
}

func TestDeliverySigned(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	data := webhook.APIKeyLoginThrottled{APIKeyID: "ak_1", LoginsPerHour: 20, RetryAfterSeconds: 1800}
	if err := f.svc.Enqueue(ctx, tenant, webhook.TypeAPIKeyLoginThrottled, "", data); err != nil {
		t.Fatal(err)
	}
	if n := f.deliverDue(t); n != 1 {
		t.Fatalf("DeliverDue tried %d, want 1", n)
	}
	got := f.recv.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	d := got[0]
	h := func(name string) string { return d.Header.Get(name) }
	if h("Content-Type") != "application/json" || h("User-Agent") != "Gatehouse-Webhook/1" || h("webhook-id") != d.Env.ID ||
		h("webhook-timestamp") != strconv.FormatInt(f.clock.Unix(), 10) {
		t.Fatalf("headers: %v", d.Header)
	}
	if d.Env.Type != webhook.TypeAPIKeyLoginThrottled || d.Env.Tenant != "acme" || !d.Env.CreatedAt.Equal(f.clock) ||
		string(d.Env.Data) != `{"api_key_id":"ak_1","logins_per_hour":20,"retry_after_seconds":1800}` {
		t.Fatalf("envelope: %+v (%s)", d.Env, d.Env.Data)
	}
	secret := webhook.SigningSecret(tenantKey(tenant))
	if err := webhook.Verify(secret, h("webhook-id"), h("webhook-timestamp"), d.Body, h("webhook-signature")); err != nil {
		t.Fatalf("Verify: %v (header %q)", err, h("webhook-signature"))
	}
	other := webhook.SigningSecret(tenantKey(quiet)) // another tenant's key
	if err := webhook.Verify(other, h("webhook-id"), h("webhook-timestamp"), d.Body, h("webhook-signature")); !errors.Is(err, webhook.ErrSignature) {
		t.Fatalf("Verify with another tenant's secret: %v", err)
	}
	if e := f.event(t, d.Env.ID); e.Status() != store.WebhookDelivered || !e.DeliveredAt.Equal(f.clock) || e.Attempts != 1 {
		t.Fatalf("after delivery: %+v", e)
	}
	f.clock = f.clock.Add(day)
	if n := f.deliverDue(t); n != 0 || len(f.recv.deliveries()) != 1 {
		t.Fatalf("a delivered event was sent again (%d tried)", n)
	}
}

func TestVerify(t *testing.T) {
	k := []byte("key")
	secret := webhook.SigningSecret(k)
	body := []byte(`{"id":"msg_1"}`)
	f := newFixture(t, time.Second)
	f.svc.Secret = func(string) []byte { return k }
	if err := f.svc.Enqueue(ctx, tenant, webhook.TypePing, "", struct{}{}); err != nil {
		t.Fatal(err)
	}
	f.deliverDue(t)
	d := f.recv.deliveries()[0]
	id, ts, sig := d.Header.Get("webhook-id"), d.Header.Get("webhook-timestamp"), d.Header.Get("webhook-signature")
	cases := []struct {
		name, secret, id, ts string
		body                 []byte
		header               string
		ok                   bool
	}{
		{"genuine", secret, id, ts, d.Body, sig, true},
		{"one of several signatures", secret, id, ts, d.Body, "v1,AAAA " + sig, true},
		{"secret without prefix", secret[len("whsec_"):], id, ts, d.Body, sig, true},
		{"body changed", secret, id, ts, body, sig, false},
		{"id changed", secret, "msg_other", ts, d.Body, sig, false},
		{"timestamp changed", secret, id, "1", d.Body, sig, false},
		{"wrong version", secret, id, ts, d.Body, "v2," + sig[3:], false},
		{"empty header", secret, id, ts, d.Body, "", false},
		{"malformed secret", "whsec_***", id, ts, d.Body, sig, false},
	}
	for _, c := range cases {
		if err := webhook.Verify(c.secret, c.id, c.ts, c.body, c.header); (err == nil) != c.ok {
			t.Errorf("%s: Verify = %v", c.name, err)
		}
	}
}

func TestRetryThenSuccess(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	f.recv.answer(failFirst(http.StatusInternalServerError))
	id, err := f.svc.Ping(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	f.deliverDue(t)
	e := f.event(t, id)
	if e.Status() != store.WebhookPending || e.Attempts != 1 || e.LastError != "HTTP 500" {
		t.Fatalf("after a 500: %+v", e)
	}
	// The first retry waits 30 s ± 25%.
	if wait := e.NextAttemptAt.Sub(f.clock); wait < 22*time.Second || wait > 38*time.Second {
		t.Fatalf("retry after %s, want about 30s", wait)
	}
	f.clock = f.clock.Add(20 * time.Second)
	if n := f.deliverDue(t); n != 0 {
		t.Fatalf("retried %d before the backoff ended", n)
	}
	f.clock = f.clock.Add(20 * time.Second)
	if n := f.deliverDue(t); n != 1 {
		t.Fatalf("retried %d after the backoff, want 1", n)
	}
	got := f.recv.deliveries()
	if len(got) != 2 || got[0].Env.ID != got[1].Env.ID || got[1].Header.Get("webhook-id") != id {
		t.Fatalf("deliveries: %+v", got)
	}
	if e := f.event(t, id); e.Status() != store.WebhookDelivered || e.Attempts != 2 {
		t.Fatalf("after success: %+v", e)
	}
}

func TestAbandonAfterMaxAttempts(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	f.svc.MaxAttempts = 3
	f.recv.answer(func(int) int { return http.StatusServiceUnavailable })
	id, err := f.svc.Ping(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		f.deliverDue(t)
		f.clock = f.clock.Add(2 * time.Hour) // past any backoff
	}
	if n := len(f.recv.deliveries()); n != 3 {
		t.Fatalf("%d tries, want 3", n)
	}
	if e := f.event(t, id); e.Status() != store.WebhookAbandoned || e.Attempts != 3 || e.LastError != "HTTP 503" {
		t.Fatalf("after the last attempt: %+v", e)
	}
}

// A redirect is a failure, not followed: POST would turn into GET.
func TestRedirectNotFollowed(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	f.recv.answer(failFirst(http.StatusTemporaryRedirect))
	id, err := f.svc.Ping(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	f.deliverDue(t)
	if e := f.event(t, id); e.Status() != store.WebhookPending || e.LastError != "HTTP 307" || len(f.recv.deliveries()) != 1 {
		t.Fatalf("after a redirect: %+v, %d requests", e, len(f.recv.deliveries()))
	}
}

func TestDedupAndNoWebhook(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	data := webhook.APIAccessChanged{UserIDs: []string{"usr_1", "usr_2"}, Enabled: false}
	for range 2 {
		if err := f.svc.Enqueue(ctx, tenant, webhook.TypeAPIAccessChanged, "access:req_1", data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Enqueue(ctx, quiet, webhook.TypeAPIAccessChanged, "", data); err != nil {
		t.Fatalf("Enqueue for a tenant without a webhook: %v", err)
	}
	if _, err := f.svc.Ping(ctx, quiet); !errors.Is(err, webhook.ErrNoWebhook) {
		t.Fatalf("Ping without a webhook: %v", err)
	}
	if err := f.svc.Enqueue(ctx, "tn_missing", webhook.TypePing, "", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Enqueue for an unknown tenant: %v", err)
	}
	f.deliverDue(t)
	got := f.recv.deliveries()
	if len(got) != 1 || string(got[0].Env.Data) != `{"user_ids":["usr_1","usr_2"],"enabled":false}` {
		t.Fatalf("deliveries: %+v", got)
	}
}

// A receiver that never answers costs one client timeout, and the try is
// recorded as failed and retried.
func TestUnansweredReceiverBounded(t *testing.T) {
	f := newFixture(t, 300*time.Millisecond)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	if _, err := f.store.UpdateTenant(ctx, tenant, func(t *store.Tenant) error {
		t.Settings.WebhookURL = hang.URL + "/hook?token=receivers-own"
		return nil
	}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	id, err := f.svc.Ping(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := f.svc.DeliverDue(ctx); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("DeliverDue still waiting for a receiver that never answers")
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("gave up after %s, before the client timeout", took)
	}
	e := f.event(t, id)
	if e.Status() != store.WebhookPending || e.Attempts != 1 || e.LastError == "" {
		t.Fatalf("after a timeout: %+v", e)
	}
	if strings.Contains(e.LastError, "receivers-own") {
		t.Fatalf("the stored error carries the URL: %q", e.LastError)
	}
}

// Run delivers an event enqueued on its replica at once, not at its next
// poll, and returns when its context ends.
func TestRunWakesOnEnqueue(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	f.svc.Poll = time.Hour
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { f.svc.Run(runCtx); close(stopped) }()
	// The second ping is enqueued after the first was delivered, so Run
	// is past that round: only the wake-up brings it back before Poll.
	for want := 1; want <= 2; want++ {
		if _, err := f.svc.Ping(ctx, tenant); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); len(f.recv.deliveries()) < want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("ping %d was not delivered within 5s", want)
			}
		}
	}
	stop()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// A token expiring in 30 days gets the 7-day notice, then the 1-day one,
// each once.
func TestPATExpiryNotices(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	if err := f.store.CreateUser(ctx, &store.User{ID: "usr_ada", TenantID: tenant, Email: "ada@example.com", CreatedAt: f.clock,
		UpdatedAt: f.clock}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	expires := f.clock.Add(30 * day)
	p := &store.PAT{ID: "pat_1", TenantID: tenant, UserID: "usr_ada", Name: "ci", Digest: "d1", Prefix: "gate_pat_abcd",
		CreatedAt: f.clock, ExpiresAt: expires}
	if err := f.store.CreatePAT(ctx, p, 10, store.Event{}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at   time.Time
		want []int // days_left of the notices delivered
	}{
		{f.clock, nil},
		{expires.Add(-7*day - time.Minute), nil},
		{expires.Add(-7*day + time.Minute), []int{7}},
		{expires.Add(-2 * day), []int{7}},
		{expires.Add(-day + time.Minute), []int{7, 1}},
		{expires.Add(-time.Minute), []int{7, 1}},
		{expires.Add(time.Hour), []int{7, 1}},
	}
	for _, st := range steps {
		f.clock = st.at
		if _, err := f.svc.ScanPATExpiry(ctx); err != nil {
			t.Fatal(err)
		}
		f.deliverDue(t)
		var got []int
		for _, d := range f.recv.deliveries() {
			var data webhook.PATExpiring
			if err := json.Unmarshal(d.Env.Data, &data); err != nil || d.Env.Type != webhook.TypePATExpiring {
				t.Fatalf("delivery %+v: %v", d.Env, err)
			}
			if data.PATID != "pat_1" || data.UserID != "usr_ada" || data.Name != "ci" || data.Prefix != "gate_pat_abcd" ||
				!data.ExpiresAt.Equal(expires) {
				t.Fatalf("notice data: %s", d.Env.Data)
			}
			got = append(got, data.DaysLeft)
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Fatalf("at expiry%+v: notices %v, want %v", st.at.Sub(expires), got, st.want)
		}
	}
}

// An event whose tenant removed its webhook URL is abandoned, not retried.
func TestWebhookRemovedBeforeDelivery(t *testing.T) {
	f := newFixture(t, 5*time.Second)
	id, err := f.svc.Ping(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UpdateTenant(ctx, tenant, func(t *store.Tenant) error {
		t.Settings.WebhookURL = ""
		return nil
	}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	f.deliverDue(t)
	if e := f.event(t, id); e.Status() != store.WebhookAbandoned || e.LastError == "" || len(f.recv.deliveries()) != 0 {
		t.Fatalf("after the URL was removed: %+v, %d requests", e, len(f.recv.deliveries()))
	}
}
