package sdk

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"time"
)

// Transport is an http.RoundTripper that authenticates requests with a
// TokenSource and keeps to the server's rules: it renews the token once on
// 401 and sends the request again (when its body can be replayed), and on
// 429 waits the Retry-After within the request's context, or fails fast.
type Transport struct {
	Source TokenSource
	// Base sends the requests; nil: http.DefaultTransport.
	Base http.RoundTripper
	// Limiter, when set, holds requests back to stay within the read and
	// write budgets (a well-behaved client never sees 429).
	Limiter *Limiter
	// FailFast returns a *RateLimitError at the first 429 instead of waiting.
	FailFast bool
	// MaxWait is the longest Retry-After waited (zero: 5 minutes), and
	// MaxRetries how many 429s in a row one request sits out (zero: 3).
	MaxWait    time.Duration
	MaxRetries int
	Clock      Clock // nil: the system clock
}

// RoundTrip implements http.RoundTripper. The request is not modified: a
// copy carries the Authorization header.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if t.Limiter != nil {
		if err := t.Limiter.Wait(ctx, writeMethod(req.Method)); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	header, access, err := t.bearer(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(authorized(req, req.Body, header))
	renewed, limited := false, 0
	for err == nil {
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			renewed = true
			t.Source.Invalidate(access) // the next request gets a new token, even if this one cannot be retried
			if !replayable(req) {
				return resp, nil
			}
			next, nextAccess, terr := t.bearer(ctx)
			if terr != nil || next == header {
				return resp, nil // nothing new to try: the caller sees the 401
			}
			header, access = next, nextAccess
		case resp.StatusCode == http.StatusTooManyRequests:
			wait := max(retryAfter(resp.Header.Get("Retry-After"), t.clock().Now()), time.Second)
			limited++
			if t.FailFast || limited > cmp.Or(t.MaxRetries, 3) || wait > cmp.Or(t.MaxWait, 5*time.Minute) ||
				!replayable(req) || deadlineBefore(ctx, time.Now().Add(wait)) { // deadlines are wall-clock
				drain(resp)
				return nil, &RateLimitError{RetryAfter: wait, Response: resp}
			}
			drain(resp)
			if err := sleep(ctx, t.clock(), wait); err != nil {
				return nil, err
			}
			resp = nil
		default:
			return resp, nil
		}
		if resp != nil {
			drain(resp)
		}
		body, berr := replay(req)
		if berr != nil {
			return nil, berr
		}
		resp, err = base.RoundTrip(authorized(req, body, header))
	}
	return nil, err
}

func (t *Transport) clock() Clock {
	if t.Clock == nil {
		return systemClock{}
	}
	return t.Clock
}

// bearer is the Authorization value and the access token in it.
func (t *Transport) bearer(ctx context.Context) (string, string, error) {
	if b, ok := t.Source.(bearerSource); ok {
		return b.bearer(ctx)
	}
	tok, err := t.Source.Token(ctx)
	if err != nil {
		return "", "", err
	}
	return "Bearer " + tok.AccessToken, tok.AccessToken, nil
}

// authorized is a shallow copy of req with body and a copy of its header
// carrying auth: the request's header values share one allocation.
func authorized(req *http.Request, body io.ReadCloser, auth string) *http.Request {
	r := *req
	r.Body = body
	n := 1
	for _, vv := range req.Header {
		n += len(vv)
	}
	values := make([]string, n)
	h := make(http.Header, len(req.Header)+1)
	for k, vv := range req.Header {
		if k == "Authorization" {
			continue
		}
		c := copy(values, vv)
		h[k], values = values[:c:c], values[c:]
	}
	values[0] = auth
	h["Authorization"] = values[:1:1]
	r.Header = h
	return &r
}

// replayable reports whether req's body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// replay is a fresh copy of req's body.
func replay(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, nil
	}
	return req.GetBody()
}

// drain reads a little of a response being dropped, so that its
// connection can be reused, and closes it.
func drain(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 4<<10) //nolint:errcheck // best effort
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// deadlineBefore reports whether ctx ends before t.
func deadlineBefore(ctx context.Context, t time.Time) bool {
	d, ok := ctx.Deadline()
	return ok && d.Before(t)
}

// writeMethod sorts methods as the gateway does: GET, HEAD and OPTIONS
// read; anything else writes.
func writeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions && m != ""
}
