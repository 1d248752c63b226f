package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// defaultClient is the HTTP client of token requests when a config names
// none: a token endpoint that hangs must not hang the caller.
var defaultClient = &http.Client{Timeout: 30 * time.Second}

// maxTokenBody caps a token response.
const maxTokenBody = 1 << 20

// joinURL is base with path appended.
func joinURL(base, path string) string {
	return strings.TrimSuffix(base, "/") + path
}

// post sends fields to endpoint in the encoding, with Basic credentials
// when user is not empty, and reads a token of the shape from a 2xx
// answer, or an *OAuthError from any other.
func post(ctx context.Context, hc *http.Client, s Shape, clock Clock, endpoint string, enc Encoding, fields map[string]string, user, pass string) (*oauth2.Token, error) {
	var body []byte
	var ctype string
	if enc == JSONBody {
		body, _ = json.Marshal(fields) // a map of strings always marshals
		ctype = "application/json"
	} else {
		v := url.Values{}
		for k, f := range fields {
			v.Set(k, f)
		}
		body, ctype = []byte(v.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	if hc == nil {
		hc = defaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, errorFrom(resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody+1))
	if err != nil {
		return nil, fmt.Errorf("sdk: reading the token response: %w", err)
	}
	if len(raw) > maxTokenBody {
		return nil, fmt.Errorf("%w: over %d bytes", errMalformed, maxTokenBody)
	}
	return s.parseToken(raw, clock.Now())
}
