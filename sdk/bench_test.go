package sdk

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The Transport's overhead on a cached token: what it adds to a request
// over the round tripper beneath it (here one that answers at once, so
// only the Transport is measured). BenchmarkBaseRoundTrip is the baseline.
func benchRequest() *http.Request {
	req, _ := http.NewRequest("GET", "https://api.example/external/company/v1.2/programs", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "integration/1.0")
	req.Header.Set("X-Request-Id", "7d1c9c1e")
	return req
}

var benchResponse = &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(""))}

var benchBase = roundTripper(func(*http.Request) *http.Response { return benchResponse })

func BenchmarkBaseRoundTrip(b *testing.B) {
	req := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		benchBase.RoundTrip(req) //nolint:errcheck
	}
}

func BenchmarkTransportCachedToken(b *testing.B) {
	cc := NewClientCredentials(ClientCredentialsConfig{TokenURL: "https://unused.example/token"})
	cc.set(&oauth2.Token{AccessToken: strings.Repeat("j", 600), Expiry: time.Now().Add(time.Hour)}) // a JWT-sized token
	tr := &Transport{Source: cc, Base: benchBase}
	req := benchRequest()
	if _, err := cc.Token(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}

// For comparison: golang.org/x/oauth2's Transport on a cached token.
func BenchmarkOAuth2TransportCachedToken(b *testing.B) {
	tok := &oauth2.Token{AccessToken: strings.Repeat("j", 600), TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
	tr := &oauth2.Transport{Source: oauth2.ReuseTokenSource(tok, oauth2.StaticTokenSource(tok)), Base: benchBase}
	req := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}
