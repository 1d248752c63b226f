package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/sdk"
)

// exampleServer stands in for Gatehouse: a token endpoint that wants the
// client's Basic credentials, and an API that wants its token.
func exampleServer() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if id != "gc_example" || secret != "gate_sk_example" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		io.WriteString(w, `{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`)
	})
	mux.HandleFunc("GET /api/acme/programs", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `["bug bounty"]`)
	})
	return httptest.NewServer(mux)
}

// A machine client: the token is fetched on first use and reused until
// shortly before it expires; the Transport sends it.
func ExampleNewClientCredentials() {
	srv := exampleServer()
	defer srv.Close()

	src := sdk.NewClientCredentials(sdk.ClientCredentialsConfig{
		BaseURL:  srv.URL, // Gatehouse's shape: BaseURL + /oauth2/token
		ClientID: "gc_example", ClientSecret: "gate_sk_example",
		Scopes: []string{"programs:read"},
	})
	client := &http.Client{Transport: &sdk.Transport{Source: src}}
	resp, err := client.Get(srv.URL + "/api/acme/programs")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 ["bug bounty"]
}

// Errors are typed: compare the RFC 6749 code, not the message.
func ExampleOAuthError() {
	srv := exampleServer()
	defer srv.Close()

	src := sdk.NewClientCredentials(sdk.ClientCredentialsConfig{BaseURL: srv.URL, ClientID: "gc_example", ClientSecret: "wrong"})
	_, err := src.Token(context.Background())
	var oe *sdk.OAuthError
	if errors.As(err, &oe) {
		fmt.Println(oe.StatusCode, oe.Code)
	}
	// Output: 401 invalid_client
}

// Pliant's documented shape: a JSON body with an audience.
func ExampleNewClientCredentials_pliant() {
	src := sdk.NewClientCredentials(sdk.ClientCredentialsConfig{
		Shape:    sdk.Pliant,
		TokenURL: "https://infinnityprodinternal.eu.auth0.com/oauth/token",
		ClientID: "YOUR CLIENT ID", ClientSecret: "YOUR CLIENT SECRET",
		Audience: "api.getpliant.com/api/integration",
	})
	_ = &http.Client{Transport: &sdk.Transport{
		Source:  src,
		Limiter: sdk.NewLimiter(sdk.Budget{Reads: 600, Writes: 200}), // stay under the budgets: no 429s
	}}
}

// An API-key session (Intergiro's shape): log in once, refresh only after
// the access token expired, keep the newest refresh token in a file so
// that a restart refreshes instead of logging in again.
func ExampleNewAPIKeySession() {
	src := sdk.NewAPIKeySession(sdk.APIKeySessionConfig{
		Shape:   sdk.Intergiro,
		BaseURL: "https://api.intergiro.example",
		APIKey:  "c5f90f4b-9d69-416a-8611-8a8c8d605c36",
		Store:   sdk.FileStore{Path: "/var/lib/integration/intergiro-session.json"},
	})
	_ = &http.Client{Transport: &sdk.Transport{Source: src}}
}

// The user-delegated flow: send the user to URL, keep State and Verifier
// in their session, and exchange the callback.
func ExampleAuthorizationCode() {
	flow := &sdk.AuthorizationCode{Config: oauth2.Config{
		ClientID: "gc_reporting", ClientSecret: "gate_sk_…",
		Endpoint:    oauth2.Endpoint{AuthURL: "https://gatehouse.example/oauth2/authorize", TokenURL: "https://gatehouse.example/oauth2/token"},
		RedirectURL: "https://reporting.example/callback",
		Scopes:      []string{"submissions:read", "offline_access"},
	}}
	auth := flow.Start()
	u, _ := url.Parse(auth.URL)
	fmt.Println(u.Query().Get("code_challenge_method"), u.Query().Get("state") == auth.State)

	// In the callback handler: a forged or replayed redirect is refused
	// before any code is exchanged.
	_, err := flow.Exchange(context.Background(), auth, url.Values{"code": {"x"}, "state": {"forged"}})
	fmt.Println(errors.Is(err, sdk.ErrStateMismatch))
	// Output:
	// S256 true
	// true
}

// A personal access token never changes; a 401 with it is the caller's.
func ExampleNewStatic() {
	_ = &http.Client{Transport: &sdk.Transport{Source: sdk.NewStatic("gate_pat_…")}}
}
