package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Claims are what an access token says, whatever its format.
type Claims struct {
	Issuer   string           `json:"iss"`
	Subject  string           `json:"sub"`
	Audience jwt.Audience     `json:"aud"`
	Expiry   *jwt.NumericDate `json:"exp"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	ID       string           `json:"jti"`
	ClientID string           `json:"client_id"`
	Scope    string           `json:"scope,omitempty"`
	Tenant   string           `json:"tenant"`
	Orgs     []string         `json:"orgs"`
	Auth     credential.Kind  `json:"auth"`
	// SessionID names the refresh family (an authorization, or an API-key
	// session) the token was minted from: revoking the family denies it,
	// and logging out with it ends the session.
	SessionID string `json:"sid,omitempty"`
	TenantID  string `json:"-"` // internal id, not in the JWT
	Format    string `json:"-"` // store.FormatJWT or store.FormatOpaque
}

// Scopes splits the scope claim.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// ExpiresAt is the expiry as a time.
func (c *Claims) ExpiresAt() time.Time { return c.Expiry.Time() }

// Service mints and verifies access tokens.
type Service struct {
	Issuer string
	Keys   *keys.Manager
	Store  store.Tokens
	Now    func() time.Time
}

// Request is what a grant asks to be minted.
type Request struct {
	ClientID string
	TenantID string
	Tenant   string
	Orgs     []string
	Subject  string
	Audience []string
	Scope    string
	Auth     credential.Kind
	TTL      time.Duration
	Format   string
	// SessionID is the refresh family the token is minted from (the sid
	// claim; kept with an opaque token), "" for none.
	SessionID string
}

// Minted is an issued token.
type Minted struct {
	Token  string
	Claims Claims
}

// Mint issues an access token.
func (s *Service) Mint(ctx context.Context, r Request) (*Minted, error) {
	now := s.Now().Truncate(time.Second)
	c := Claims{
		Issuer: s.Issuer, Subject: r.Subject, Audience: jwt.Audience(r.Audience),
		Expiry: jwt.NewNumericDate(now.Add(r.TTL)), IssuedAt: jwt.NewNumericDate(now), ID: newJTI(),
		ClientID: r.ClientID, Scope: r.Scope, Tenant: r.Tenant, Orgs: r.Orgs, Auth: r.Auth, SessionID: r.SessionID,
		TenantID: r.TenantID, Format: r.Format,
	}
	if r.Format == store.FormatOpaque {
		tok := secret.New(secret.AccessToken)
		err := s.Store.CreateOpaqueToken(ctx, &store.OpaqueToken{
			Digest: secret.Hash(tok).String(), ClientID: r.ClientID, TenantID: r.TenantID, Subject: r.Subject,
			Scope: r.Scope, Audience: r.Audience, Orgs: r.Orgs, Auth: string(r.Auth), IssuedAt: now, ExpiresAt: c.ExpiresAt(),
			JTI: c.ID, SessionID: r.SessionID,
		})
		if err != nil {
			return nil, err
		}
		return &Minted{Token: tok, Claims: c}, nil
	}
	// Marshal once and sign the bytes: go-jose's jwt builder would round-trip
	// the claims through a map, which costs as much as the signature.
	payload, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	tok, err := s.Keys.Current().SignJWT(payload)
	if err != nil {
		return nil, err
	}
	return &Minted{Token: tok, Claims: c}, nil
}

func newJTI() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Verification failures. They are distinct for logs and tests; callers
// answering a client collapse them (RFC 7662 §2.2: just active=false).
var (
	ErrMalformed = errors.New("token: malformed")
	ErrSignature = errors.New("token: bad signature or unknown key")
	ErrExpired   = errors.New("token: expired")
	ErrRevoked   = errors.New("token: revoked")
	ErrClaims    = errors.New("token: wrong issuer or type")
)

// Verify checks a Gatehouse access token of either format and returns its
// claims: a JWT's signature, type, issuer and expiry; an opaque token's row
// (and its revoked flag). The deny list, and what the token's holder may
// do now, are authn's to check.
func (s *Service) Verify(ctx context.Context, raw string) (*Claims, error) {
	if strings.HasPrefix(raw, "gate_") {
		return s.verifyOpaque(ctx, raw)
	}
	return s.VerifyJWT(ctx, raw)
}

// VerifyJWT checks signature, type, issuer and expiry of a JWT access token
// without consulting the deny list.
func (s *Service) VerifyJWT(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > 8192 {
		return nil, ErrMalformed
	}
	// go-jose refuses any algorithm not listed, and "none" is never listed.
	tok, err := jwt.ParseSigned(raw, keys.Algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, ErrMalformed
	}
	h := tok.Headers[0]
	// RFC 9068 §4: the resource server MUST check typ is at+jwt.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, ErrClaims
	}
	key, ok := s.Keys.Lookup(ctx, h.KeyID)
	// The key's own algorithm decides, never the header's (RFC 8725 §3.1).
	if !ok || string(key.Alg) != h.Algorithm {
		return nil, ErrSignature
	}
	var c Claims
	if err := tok.Claims(key.Public, &c); err != nil {
		return nil, ErrSignature
	}
	if c.Issuer != s.Issuer || c.Expiry == nil {
		return nil, ErrClaims
	}
	if !s.Now().Before(c.ExpiresAt()) {
		return nil, ErrExpired
	}
	c.Format = store.FormatJWT
	return &c, nil
}

func (s *Service) verifyOpaque(ctx context.Context, raw string) (*Claims, error) {
	if secret.Parse(raw, secret.AccessToken) != nil {
		return nil, ErrMalformed
	}
	t, err := s.Store.GetOpaqueToken(ctx, secret.Hash(raw).String())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrSignature
	}
	if err != nil {
		return nil, err
	}
	if t.Revoked {
		return nil, ErrRevoked
	}
	if !s.Now().Before(t.ExpiresAt) {
		return nil, ErrExpired
	}
	return &Claims{
		Issuer: s.Issuer, Subject: t.Subject, Audience: jwt.Audience(t.Audience), Expiry: jwt.NewNumericDate(t.ExpiresAt),
		IssuedAt: jwt.NewNumericDate(t.IssuedAt), ClientID: t.ClientID, Scope: t.Scope, Orgs: t.Orgs,
		TenantID: t.TenantID, Format: store.FormatOpaque, Auth: credential.Kind(t.Auth), ID: t.JTI, SessionID: t.SessionID,
	}, nil
}

// Revoke makes a token unusable: its jti goes on the deny list until the
// token would have expired anyway (an opaque token is also marked revoked).
func (s *Service) Revoke(ctx context.Context, raw string, c *Claims, ev store.Event) error {
	if c.Format == store.FormatOpaque {
		return s.Store.RevokeOpaqueToken(ctx, secret.Hash(raw).String(), ev)
	}
	return s.Store.Deny(ctx, map[string]time.Time{revocation.ID(revocation.Token, c.ID): c.ExpiresAt()}, ev)
}
