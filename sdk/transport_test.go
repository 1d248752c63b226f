package sdk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// roundTripper is a fake server: fn answers each request.
type roundTripper func(*http.Request) *http.Response

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r), nil }

func answer(status int, hdr ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(`{"error":"x"}`))}
}

// fakeSource hands out "a1", "a2", … and counts invalidations.
type fakeSource struct {
	n           atomic.Int32
	invalidated atomic.Int32
	cache
}

func newFakeSource() *fakeSource {
	s := &fakeSource{}
	clk := newTestClock()
	s.cache = cache{clock: clk, fetch: (&countingFetch{clock: clk, ttl: time.Hour}).fetch}
	return s
}

func (s *fakeSource) Token(ctx context.Context) (*oauth2.Token, error) { return s.token(ctx) }
func (s *fakeSource) Invalidate(a string)                              { s.invalidated.Add(1); s.invalidate(a) }

// A 401 renews the token once and sends the request again, body and all;
// the caller's request is left as it was.
func TestTransportRenewsOn401(t *testing.T) {
	src := newFakeSource()
	var seen []string
	tr := &Transport{Source: src, Base: roundTripper(func(r *http.Request) *http.Response {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Header.Get("Authorization")+" "+string(body)+" "+r.Header.Get("X-Trace"))
		if r.Header.Get("Authorization") == "Bearer t1" {
			return answer(401, "WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		return answer(200)
	})}
	req, _ := http.NewRequest("POST", "https://api.example/things", bytes.NewReader([]byte(`{"n":1}`)))
	req.Header.Set("X-Trace", "abc")
	req.Header.Set("Authorization", "Bearer caller-set") // replaced in the copy, kept in the original
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after renewal: %v %v", resp, err)
	}
	want := []string{`Bearer t1 {"n":1} abc`, `Bearer t2 {"n":1} abc`}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("sent %q, want %q", seen, want)
	}
	if req.Header.Get("Authorization") != "Bearer caller-set" || len(req.Header) != 2 {
		t.Fatalf("the caller's request was modified: %v", req.Header)
	}

	// A second 401 in a row is the caller's: no loop.
	calls := 0
	tr.Base = roundTripper(func(*http.Request) *http.Response { calls++; return answer(401) })
	resp, err = tr.RoundTrip(req.Clone(context.Background()))
	if err != nil || resp.StatusCode != 401 || calls != 2 {
		t.Fatalf("always 401: %v %v after %d calls, want the 401 after 2", resp, err, calls)
	}
}

// A body that cannot be replayed is not sent twice: the 401 is returned,
// and the refused token is dropped all the same.
func TestTransport401WithOneShotBody(t *testing.T) {
	calls := 0
	src := newFakeSource()
	tr := &Transport{Source: src, Base: roundTripper(func(*http.Request) *http.Response { calls++; return answer(401) })}
	req, _ := http.NewRequest("PUT", "https://api.example/x", io.NopCloser(strings.NewReader("stream")))
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 401 || calls != 1 {
		t.Fatalf("one-shot body: %v %v after %d calls", resp, err, calls)
	}
	if tok, _ := src.Token(context.Background()); tok.AccessToken != "t2" {
		t.Fatalf("after a 401 the next request must use a new token, got %q", tok.AccessToken)
	}
}

// A static token (a PAT) cannot be renewed: its 401 comes back at once.
func TestTransportStatic401(t *testing.T) {
	calls := 0
	tr := &Transport{Source: NewStatic("gate_pat_x"), Base: roundTripper(func(r *http.Request) *http.Response {
		calls++
		if r.Header.Get("Authorization") != "Bearer gate_pat_x" {
			t.Errorf("header %q", r.Header.Get("Authorization"))
		}
		return answer(401)
	})}
	req, _ := http.NewRequest("GET", "https://api.example/x", nil)
	if resp, err := tr.RoundTrip(req); err != nil || resp.StatusCode != 401 || calls != 1 {
		t.Fatalf("static: %v %v after %d calls", resp, err, calls)
	}
}

// 429: the Transport waits Retry-After (on the clock) and sends again; it
// fails fast with a *RateLimitError when told to, when the wait outlasts
// the context's deadline or MaxWait, or after MaxRetries refusals.
func TestTransport429(t *testing.T) {
	clk := newTestClock()
	limited := 1
	calls := 0
	base := roundTripper(func(*http.Request) *http.Response {
		calls++
		if calls <= limited {
			return answer(429, "Retry-After", "7")
		}
		return answer(200)
	})
	tr := &Transport{Source: NewStatic("t"), Base: base, Clock: clk}
	req, _ := http.NewRequest("GET", "https://api.example/x", nil)
	done := make(chan *http.Response)
	go func() { resp, _ := tr.RoundTrip(req); done <- resp }()
	for clk.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	clk.Advance(6 * time.Second)
	select {
	case <-done:
		t.Fatal("sent again before Retry-After")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Second)
	if resp := <-done; resp == nil || resp.StatusCode != 200 || calls != 2 {
		t.Fatalf("after waiting: %v, %d calls", resp, calls)
	}

	check := func(name string, tr *Transport, ctx context.Context, wantCalls int) {
		t.Helper()
		calls = 0
		r, _ := http.NewRequestWithContext(ctx, "GET", "https://api.example/x", nil)
		resp, err := tr.RoundTrip(r)
		var rl *RateLimitError
		if resp != nil || !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second || rl.Response.StatusCode != 429 || calls != wantCalls {
			t.Errorf("%s: %v, %v after %d calls; want a *RateLimitError of 7 s after %d", name, resp, err, calls, wantCalls)
		}
	}
	limited = 100
	check("fail fast", &Transport{Source: NewStatic("t"), Base: base, Clock: clk, FailFast: true}, context.Background(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	check("deadline", &Transport{Source: NewStatic("t"), Base: base, Clock: clk}, ctx, 1)
	check("max wait", &Transport{Source: NewStatic("t"), Base: base, Clock: clk, MaxWait: 5 * time.Second}, context.Background(), 1)

	tr = &Transport{Source: NewStatic("t"), Base: base, Clock: clk, MaxRetries: 2}
	go func() {
		for range 2 {
			for clk.waiting() == 0 {
				time.Sleep(time.Millisecond)
			}
			clk.Advance(7 * time.Second)
		}
	}()
	check("max retries", tr, context.Background(), 3)
}

// Retry-After in both of RFC 9110's forms.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "0": 0, "12": 12 * time.Second, "-3": 0, "soon": 0,
		"Mon, 23 Nov 2026 12:00:30 GMT": 30 * time.Second, "Mon, 23 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("Retry-After %q = %v, want %v", v, got, want)
		}
	}
}

// Error responses become *OAuthError whatever their body.
func TestErrorFrom(t *testing.T) {
	for _, c := range []struct {
		status int
		hdr    []string
		body   string
		code   string
		wait   time.Duration
	}{
		{400, nil, `{"error":"invalid_client","error_description":"bad secret"}`, "invalid_client", 0},
		{400, nil, `{"error":"refresh_too_early","retry_after":12}`, "refresh_too_early", 12 * time.Second},
		{401, []string{"WWW-Authenticate", `Bearer realm="x", error="invalid_token"`}, ``, "invalid_token", 0},
		{503, []string{"Retry-After", "2"}, `<html>down</html>`, "service_unavailable", 2 * time.Second},
	} {
		resp := answer(c.status, c.hdr...)
		resp.Body = io.NopCloser(strings.NewReader(c.body))
		e := errorFrom(resp)
		if e.Code != c.code || e.StatusCode != c.status || e.RetryAfter != c.wait {
			t.Errorf("%d %s: %+v", c.status, c.body, e)
		}
	}
}
