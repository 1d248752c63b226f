package sdk

import (
	"context"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// ClientCredentialsConfig configures a machine client's token source
// (RFC 6749 §4.4).
type ClientCredentialsConfig struct {
	Shape Shape // zero: Gatehouse
	// TokenURL is the token endpoint; when empty, BaseURL + Shape.TokenPath.
	TokenURL, BaseURL      string
	ClientID, ClientSecret string
	Scopes                 []string
	// Audience is sent as "audience" when set (Pliant requires one).
	Audience string
	// HTTPClient sends token requests; nil: one with a 30 s timeout.
	HTTPClient *http.Client
	// Lead and Jitter: a token is renewed Lead plus up to Jitter before it
	// expires (never before half its life), in the background while it is
	// still used. Zero: 1 minute and 30 seconds.
	Lead, Jitter time.Duration
	Clock        Clock // nil: the system clock
}

// The default renewal lead: a minute, plus up to 30 s of jitter so that
// many clients started together do not renew together.
const (
	defaultLead   = time.Minute
	defaultJitter = 30 * time.Second
)

// ClientCredentials is a cached client-credentials token source: one token
// reused until shortly before it expires, one request in flight however
// many goroutines ask.
type ClientCredentials struct {
	cfg   ClientCredentialsConfig
	shape Shape
	cache
}

// NewClientCredentials returns the source; it fetches nothing until asked.
func NewClientCredentials(cfg ClientCredentialsConfig) *ClientCredentials {
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Lead == 0 && cfg.Jitter == 0 {
		cfg.Lead, cfg.Jitter = defaultLead, defaultJitter
	}
	s := &ClientCredentials{cfg: cfg, shape: cfg.Shape.withDefaults()}
	if s.cfg.TokenURL == "" {
		s.cfg.TokenURL = joinURL(cfg.BaseURL, s.shape.TokenPath)
	}
	s.cache = cache{fetch: s.fetch, clock: cfg.Clock, lead: cfg.Lead, jitter: cfg.Jitter}
	return s
}

// Token returns the cached token, or fetches one.
func (s *ClientCredentials) Token(ctx context.Context) (*oauth2.Token, error) { return s.token(ctx) }

// Invalidate forgets accessToken after a 401: the next Token fetches anew.
func (s *ClientCredentials) Invalidate(accessToken string) { s.invalidate(accessToken) }

func (s *ClientCredentials) fetch(ctx context.Context) (*oauth2.Token, error) {
	f := map[string]string{"grant_type": "client_credentials"}
	if len(s.cfg.Scopes) > 0 {
		f["scope"] = strings.Join(s.cfg.Scopes, " ")
	}
	if s.cfg.Audience != "" {
		f["audience"] = s.cfg.Audience
	}
	user, pass := s.cfg.ClientID, s.cfg.ClientSecret
	if s.shape.ClientAuth == AuthInBody {
		f["client_id"], f["client_secret"] = user, pass
		user, pass = "", ""
	}
	return post(ctx, s.cfg.HTTPClient, s.shape, s.cfg.Clock, s.cfg.TokenURL, s.shape.TokenBody, f, user, pass)
}

// Static is a source of one fixed token: a personal access token. It is
// never renewed; a 401 with it is the caller's to see.
type Static struct{ e entry }

// NewStatic returns the source for token.
func NewStatic(token string) *Static {
	return &Static{entry{tok: &oauth2.Token{AccessToken: token, TokenType: "Bearer"}, bearer: "Bearer " + token}}
}

// Token returns the token.
func (s *Static) Token(context.Context) (*oauth2.Token, error) { return s.e.tok, nil }

// Invalidate does nothing: a static token cannot be renewed.
func (s *Static) Invalidate(string) {}

func (s *Static) bearer(context.Context) (string, string, error) {
	return s.e.bearer, s.e.tok.AccessToken, nil
}
