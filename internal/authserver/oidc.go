package authserver

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/token"
)

// oidcScopes are OpenID Connect's own scopes: they ask for identity, not
// API access, so roles do not filter them.
var oidcScopes = []string{credential.ScopeOpenID, credential.ScopeEmail, credential.ScopeProfile}

// idTokenClaims are an OIDC Core §2 ID token's.
type idTokenClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Nonce    string `json:"nonce,omitempty"`
	AtHash   string `json:"at_hash,omitempty"`
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	Tenant   string `json:"tenant"`
}

// idToken signs an ID token for u, issued with the access token m, when
// the grant's scope includes openid ("" otherwise).
func (s *Server) idToken(clientID, tenant string, u *store.User, scope, nonce string, authTime time.Time, m *token.Minted) (string, error) {
	scopes := strings.Fields(scope)
	if !slices.Contains(scopes, "openid") {
		return "", nil
	}
	now := s.Now()
	sum := sha256.Sum256([]byte(m.Token)) // OIDC Core §3.1.3.6: left half
	c := idTokenClaims{Issuer: s.Issuer, Subject: u.ID, Audience: clientID, Expiry: now.Add(time.Hour).Unix(),
		IssuedAt: now.Unix(), AuthTime: authTime.Unix(), Nonce: nonce, Tenant: tenant,
		AtHash: base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])}
	if slices.Contains(scopes, "email") {
		c.Email = u.Email
	}
	if slices.Contains(scopes, "profile") {
		c.Name = u.Name
	}
	return s.Keys.Current().SignIDToken(mustJSON(c))
}

// userinfo is OIDC Core §5.3: the signed-in user's claims, for an access
// token that carries openid.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	fail := func(e *protocol.Error) {
		w.Header().Set("WWW-Authenticate", protocol.Challenge("Bearer", s.Issuer, e))
		protocol.WriteError(w, e, s.Log)
	}
	scheme, raw := protocol.AuthScheme(r.Header.Get("Authorization"))
	if scheme != "bearer" || raw == "" {
		fail(&protocol.Error{Code: "missing_token", Status: http.StatusUnauthorized, Description: "send the access token as Authorization: Bearer <token>"})
		return
	}
	p, err := s.Auth.Authenticate(r.Context(), raw)
	switch {
	case authn.IsVerdict(err):
		fail(protocol.ErrInvalidToken.WithDescription("the access token is invalid, expired or revoked"))
		return
	case err != nil:
		protocol.WriteError(w, err, s.Log)
		return
	}
	// The scopes that still hold: the client's and the user's now.
	if p.Kind != credential.AuthorizationCode || !p.HasScope(credential.ScopeOpenID) {
		fail(protocol.ErrInsufficientScope.WithDescription("the access token was not issued with the openid scope"))
		return
	}
	u, err := s.Users.Get(r.Context(), p.TenantID, p.UserID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			fail(protocol.ErrInvalidToken.WithDescription("the user no longer exists"))
			return
		}
		protocol.WriteError(w, err, s.Log)
		return
	}
	out := map[string]any{"sub": u.ID, "tenant": p.Tenant}
	if p.HasScope(credential.ScopeEmail) {
		out["email"] = u.Email
	}
	if p.HasScope(credential.ScopeProfile) {
		out["name"] = u.Name
	}
	protocol.WriteJSON(w, http.StatusOK, out)
}
