package sdk

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Store keeps a session's or an authorization's newest tokens across
// restarts. Load returns nil, nil when there is nothing; Save(nil) forgets.
type Store interface {
	Load(ctx context.Context) (*oauth2.Token, error)
	Save(ctx context.Context, tok *oauth2.Token) error
}

// APIKeySessionConfig configures an API-key session (Intergiro's shape,
// Gatehouse's /auth/login): log in with the key, then refresh.
type APIKeySessionConfig struct {
	Shape   Shape // zero: Gatehouse
	BaseURL string
	APIKey  string
	// Store, when set, keeps the newest pair, so that a restart refreshes
	// the session instead of logging in again (which platforms treat as
	// suspicious).
	Store Store
	// OnStoreError hears of a Store that failed to load or save; the
	// session goes on in memory.
	OnStoreError func(error)
	HTTPClient   *http.Client // nil: one with a 30 s timeout
	// MaxEarlyWait is the longest "refresh too early" wait the source
	// sits out before refreshing again (the server's clock runs behind);
	// a longer one is returned as the *OAuthError. Zero: one minute.
	MaxEarlyWait time.Duration
	Clock        Clock // nil: the system clock
}

// APIKeySession is a token source over an API-key session. It refreshes
// only after the access token has expired (or the server refused it),
// always with the newest refresh token, and logs in again only when the
// server says the session ended.
type APIKeySession struct {
	cfg   APIKeySessionConfig
	shape Shape
	cache

	mu      sync.Mutex // guards the fields below (fetches run one at a time anyway)
	loaded  bool
	refresh string // the newest refresh token
}

// NewAPIKeySession returns the source; it logs in on first use.
func NewAPIKeySession(cfg APIKeySessionConfig) *APIKeySession {
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.MaxEarlyWait == 0 {
		cfg.MaxEarlyWait = time.Minute
	}
	s := &APIKeySession{cfg: cfg, shape: cfg.Shape.withDefaults()}
	s.cache = cache{fetch: s.fetch, clock: cfg.Clock} // no lead: never refresh early
	return s
}

// Token returns the session's access token, logging in or refreshing when
// it must.
func (s *APIKeySession) Token(ctx context.Context) (*oauth2.Token, error) { return s.token(ctx) }

// Invalidate forgets accessToken after a 401: the next Token refreshes.
func (s *APIKeySession) Invalidate(accessToken string) { s.invalidate(accessToken) }

// fetch is one renewal: from the store, by refresh, or by login.
func (s *APIKeySession) fetch(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded && s.cfg.Store != nil {
		s.loaded = true
		tok, err := s.cfg.Store.Load(ctx)
		switch {
		case err != nil:
			s.storeError(err)
		case tok != nil:
			s.refresh = tok.RefreshToken
			if tok.AccessToken != "" && tok.Expiry.After(s.cfg.Clock.Now()) {
				return tok, nil // the last run's access token is still good
			}
		}
	}
	if s.refresh != "" {
		tok, err := s.refreshOnce(ctx)
		var oe *OAuthError
		switch {
		case err == nil:
			return s.keep(ctx, tok), nil
		case !errors.As(err, &oe) || !sessionEnded(oe):
			return nil, err // the server is unwell, not the session: no new login
		}
		s.refresh = "" // the session ended: log in again
	}
	tok, err := post(ctx, s.cfg.HTTPClient, s.shape, s.cfg.Clock, joinURL(s.cfg.BaseURL, s.shape.LoginPath), JSONBody,
		map[string]string{s.shape.APIKeyField: s.cfg.APIKey}, "", "")
	if err != nil {
		return nil, err
	}
	return s.keep(ctx, tok), nil
}

// refreshOnce refreshes, sitting out one short "too early" answer.
func (s *APIKeySession) refreshOnce(ctx context.Context) (*oauth2.Token, error) {
	for attempt := 0; ; attempt++ {
		tok, err := post(ctx, s.cfg.HTTPClient, s.shape, s.cfg.Clock, joinURL(s.cfg.BaseURL, s.shape.RefreshPath), JSONBody,
			map[string]string{s.shape.RefreshTokenField: s.refresh}, "", "")
		var oe *OAuthError
		if attempt > 0 || !errors.As(err, &oe) || oe.Code != CodeRefreshTooEarly || oe.RetryAfter > s.cfg.MaxEarlyWait {
			return tok, err
		}
		if err := sleep(ctx, s.cfg.Clock, max(oe.RetryAfter, time.Second)); err != nil {
			return nil, err
		}
	}
}

// sessionEnded reports whether a refresh failed because the session is
// over (a new login is the cure), not because of the request or server.
func sessionEnded(e *OAuthError) bool {
	return e.Code == CodeSessionExpired || e.Code == CodeInvalidGrant || e.StatusCode == http.StatusUnauthorized
}

// keep makes tok the session's newest pair and saves it. A response
// without a refresh token keeps the previous one.
func (s *APIKeySession) keep(ctx context.Context, tok *oauth2.Token) *oauth2.Token {
	if tok.RefreshToken == "" {
		tok.RefreshToken = s.refresh
	}
	s.refresh = tok.RefreshToken
	if s.cfg.Store != nil {
		if err := s.cfg.Store.Save(ctx, tok); err != nil {
			s.storeError(err)
		}
	}
	return tok
}

func (s *APIKeySession) storeError(err error) {
	if s.cfg.OnStoreError != nil {
		s.cfg.OnStoreError(err)
	}
}

// Logout ends the session on the server and forgets it here.
func (s *APIKeySession) Logout(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.refresh
	s.refresh, s.loaded = "", true
	if e := s.cur.Swap(nil); e != nil && rt == "" {
		rt = e.tok.RefreshToken
	}
	if s.cfg.Store != nil {
		if err := s.cfg.Store.Save(ctx, nil); err != nil {
			s.storeError(err)
		}
	}
	if rt == "" {
		return nil
	}
	_, err := post(ctx, s.cfg.HTTPClient, s.shape, s.cfg.Clock, joinURL(s.cfg.BaseURL, s.shape.LogoutPath), JSONBody,
		map[string]string{s.shape.RefreshTokenField: rt}, "", "")
	if errors.Is(err, errMalformed) {
		return nil // a logout answers no token
	}
	return err
}
