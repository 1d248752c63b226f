package authserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/internal/websession"
)

// Server serves the OAuth endpoints.
type Server struct {
	Issuer     string
	Clients    *clients.Service
	Tokens     *token.Service
	Keys       *keys.Manager
	Quota      ratelimit.Limiter
	Audit      *audit.Recorder
	Log        *slog.Logger
	Now        func() time.Time
	DefaultTTL time.Duration
	// Issued counts token requests by grant and outcome.
	Issued *prometheus.CounterVec
	// Sessions is the browser session shared with the console (nil: one
	// without server-side sign-out, for tests).
	Sessions *websession.Sessions
	// Auth resolves credentials for introspection and userinfo, as the
	// gateway does.
	Auth Authenticator

	// The user-delegated grants (authorization_code, refresh_token) need
	// these; without Users they are not offered.
	Store store.OAuth
	Users Users
	// Consents remembers what users approved, so that a request asking
	// for no more skips the consent page (nil: every authorization asks).
	Consents Consents
	Sealer   *secret.Sealer // seals the response a grace-window retry gets again
	// FamilyLifetime is a refresh family's absolute life (default 30 days).
	FamilyLifetime time.Duration
	// RefreshGrace lets a client retry a refresh whose response it lost
	// (0: off): within it, the token just rotated gets the same new pair.
	RefreshGrace time.Duration

	grants map[string]grant
}

// grant fills in one grant type's part of a token request: what to mint,
// and, for grants that keep state, what to do once it is minted.
type grant func(ctx context.Context, c *clients.Resolved, p protocol.Params) (*token.Request, finisher, *protocol.Error)

// finisher stores what a grant must once its access token is minted, and
// completes (or replaces) the response.
type finisher func(ctx context.Context, m *token.Minted, resp *tokenResponse) *protocol.Error

// NewIssuedCounter registers the token issuance counter.
func NewIssuedCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_token_requests_total", Help: "Token endpoint requests by grant type and outcome (issued or the OAuth error code).",
	}, []string{"grant_type", "outcome"})
	reg.MustRegister(c)
	return c
}

// Mount registers the routes on mux.
func (s *Server) Mount(mux *http.ServeMux) {
	s.grants = map[string]grant{
		credential.GrantClientCredentials: s.clientCredentials,
	}
	if s.Users != nil {
		s.grants[credential.GrantAuthorizationCode] = s.authorizationCode
		s.grants[credential.GrantRefreshToken] = s.refreshToken
		if s.FamilyLifetime == 0 {
			s.FamilyLifetime = 30 * 24 * time.Hour
		}
		s.mountAuthorize(mux)
	}
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("POST /oauth2/introspect", s.introspect)
	mux.HandleFunc("POST /oauth2/revoke", s.revoke)
	mux.HandleFunc("GET /oauth2/jwks", s.jwks)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.metadata)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	for _, p := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
		mux.HandleFunc(p, methodNotAllowed("POST"))
	}
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		protocol.WriteError(w, protocol.ErrMethodNotAllowed.WithDescription("use "+allow), nil)
	}
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short caching: verifiers also refetch on an unknown kid after rotation.
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(s.Keys.JWKS())
}

// metadata serves RFC 8414 and OIDC Discovery documents, which list exactly
// what is implemented. grant_types_supported is explicit because RFC 8414
// §2 would otherwise default it to authorization_code and implicit.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	grants := s.supportedGrants()
	auth := []string{"client_secret_basic", "client_secret_post"}
	algs := make([]string, 0, 3)
	seen := map[string]bool{}
	for _, k := range s.Keys.All() {
		if !seen[string(k.Alg)] {
			seen[string(k.Alg)] = true
			algs = append(algs, string(k.Alg))
		}
	}
	doc := map[string]any{
		"issuer":                                s.Issuer,
		"token_endpoint":                        s.Issuer + "/oauth2/token",
		"jwks_uri":                              s.Issuer + "/oauth2/jwks",
		"introspection_endpoint":                s.Issuer + "/oauth2/introspect",
		"revocation_endpoint":                   s.Issuer + "/oauth2/revoke",
		"grant_types_supported":                 grants,
		"response_types_supported":              []string{},
		"token_endpoint_auth_methods_supported": auth,
		"introspection_endpoint_auth_methods_supported": auth,
		"revocation_endpoint_auth_methods_supported":    auth,
		// OIDC Discovery requires these; libraries such as go-oidc read the
		// signing algorithms from id_token_signing_alg_values_supported.
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
	}
	if s.Users != nil {
		doc["authorization_endpoint"] = s.Issuer + "/oauth2/authorize"
		doc["userinfo_endpoint"] = s.Issuer + "/oauth2/userinfo"
		doc["response_types_supported"] = []string{"code"}
		doc["code_challenge_methods_supported"] = []string{"S256"}
		doc["authorization_response_iss_parameter_supported"] = true // RFC 9207
		doc["scopes_supported"] = oidcScopes
		doc["claims_supported"] = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "email", "name", "tenant"}
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc) //nolint:errcheck // the client went away

}
