package sdk

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// AuthorizationCode is the user-delegated flow (RFC 6749 §4.1) with PKCE
// (RFC 7636) and state, built on golang.org/x/oauth2: Start sends the user
// to authorize, Exchange turns the callback into tokens, and Source keeps
// them fresh, saving every rotated refresh token.
type AuthorizationCode struct {
	// Config names the client, its endpoints, redirect URL and scopes.
	Config oauth2.Config
	// Store, when set, keeps the newest tokens (refresh tokens rotate:
	// the previous one stops working once used).
	Store        Store
	OnStoreError func(error)
	HTTPClient   *http.Client // nil: one with a 30 s timeout
	Clock        Clock        // nil: the system clock
}

// Authorization is one pending authorization: keep State and Verifier
// (server-side, e.g. in the user's session) until the callback.
type Authorization struct {
	URL      string // send the user's browser here
	State    string
	Verifier string
}

// Start makes a fresh state and PKCE verifier and the authorize URL.
func (a *AuthorizationCode) Start(opts ...oauth2.AuthCodeOption) *Authorization {
	b := make([]byte, 24)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read does not fail
	state := base64.RawURLEncoding.EncodeToString(b)
	verifier := oauth2.GenerateVerifier()
	opts = append(opts, oauth2.S256ChallengeOption(verifier))
	return &Authorization{URL: a.Config.AuthCodeURL(state, opts...), State: state, Verifier: verifier}
}

// ErrStateMismatch means the callback is not the answer to this
// authorization (a forged or replayed redirect): nothing was exchanged.
var ErrStateMismatch = errors.New("sdk: the callback's state does not match the authorization")

// Exchange checks the callback's query against the pending authorization
// and exchanges its code. An error the server sent to the callback
// (access_denied, …) is an *OAuthError.
func (a *AuthorizationCode) Exchange(ctx context.Context, pending *Authorization, callback url.Values) (*oauth2.Token, error) {
	if subtle.ConstantTimeCompare([]byte(callback.Get("state")), []byte(pending.State)) != 1 || pending.State == "" {
		return nil, ErrStateMismatch
	}
	if code := callback.Get("error"); code != "" {
		return nil, &OAuthError{Code: code, Description: callback.Get("error_description"), URI: callback.Get("error_uri")}
	}
	tok, err := a.Config.Exchange(a.ctx(ctx), callback.Get("code"), oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		return nil, oauthError(err)
	}
	a.expireOnClock(tok)
	a.save(ctx, tok)
	return tok, nil
}

// expireOnClock sets tok's expiry by the flow's clock: oauth2 sets it by
// the system clock, and the source judges it by a.Clock.
func (a *AuthorizationCode) expireOnClock(tok *oauth2.Token) {
	if tok.ExpiresIn > 0 && a.Clock != nil {
		tok.Expiry = a.Clock.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
}

// Source returns a token source that starts from tok (nil: the Store's)
// and refreshes it when it expires, one refresh in flight, saving each
// new pair. It renews a minute (plus up to 30 s) before expiry.
func (a *AuthorizationCode) Source(tok *oauth2.Token) *AuthorizationSource {
	s := &AuthorizationSource{a: a, clock: a.Clock}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	s.cache = cache{fetch: s.fetch, clock: s.clock, lead: defaultLead, jitter: defaultJitter}
	if tok != nil {
		s.latest = tok
		s.cache.set(tok)
	}
	return s
}

// AuthorizationSource is the token source of an authorization.
type AuthorizationSource struct {
	a     *AuthorizationCode
	clock Clock
	cache

	mu     sync.Mutex
	latest *oauth2.Token // nil until loaded
}

// Token returns a fresh access token.
func (s *AuthorizationSource) Token(ctx context.Context) (*oauth2.Token, error) { return s.token(ctx) }

// Invalidate forgets accessToken after a 401: the next Token refreshes.
func (s *AuthorizationSource) Invalidate(accessToken string) { s.invalidate(accessToken) }

func (s *AuthorizationSource) fetch(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latest == nil && s.a.Store != nil {
		tok, err := s.a.Store.Load(ctx)
		if err != nil {
			return nil, err
		}
		s.latest = tok
		if tok != nil && tok.AccessToken != "" && tok.Expiry.After(s.clock.Now()) {
			return tok, nil
		}
	}
	if s.latest == nil || s.latest.RefreshToken == "" {
		return nil, &OAuthError{Code: CodeInvalidGrant, Description: "no refresh token: the user must authorize again"}
	}
	// A token with no access token makes oauth2 refresh at once.
	tok, err := s.a.Config.TokenSource(s.a.ctx(ctx), &oauth2.Token{RefreshToken: s.latest.RefreshToken}).Token()
	if err != nil {
		return nil, oauthError(err)
	}
	s.a.expireOnClock(tok)
	if tok.RefreshToken == "" {
		tok.RefreshToken = s.latest.RefreshToken
	}
	s.latest = tok
	s.a.save(ctx, tok)
	return tok, nil
}

func (a *AuthorizationCode) ctx(ctx context.Context) context.Context {
	hc := a.HTTPClient
	if hc == nil {
		hc = defaultClient
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

func (a *AuthorizationCode) save(ctx context.Context, tok *oauth2.Token) {
	if a.Store == nil {
		return
	}
	if err := a.Store.Save(ctx, tok); err != nil && a.OnStoreError != nil {
		a.OnStoreError(err)
	}
}

// oauthError turns oauth2's error into an *OAuthError where it is one.
func oauthError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	e := &OAuthError{Code: re.ErrorCode, Description: re.ErrorDescription, URI: re.ErrorURI}
	if re.Response != nil {
		e.StatusCode = re.Response.StatusCode
	}
	if e.Code == "" {
		e.Code = "http_error"
	}
	return e
}
