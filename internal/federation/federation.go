// Package federation verifies access tokens issued by a tenant's own
// identity provider (a tenant in user_auth_mode "oauth"). The provider's
// discovery document is read with coreos/go-oidc, which also checks the
// signature algorithm, the signature and the issuer; this package adds what
// an access token from someone else's server needs on top: a refusal with
// a specific reason for each way a token can be wrong (RFC 6750
// error_description), a key set that refetches the JWKS on an unknown kid
// at most once per KeyRefetch (so junk tokens cannot make Gatehouse hammer
// a customer's IdP), the audience rule, and the claim namespace that names
// the user (<ns>/email) and, optionally, the tenant (<ns>/tenant).
//
// Every fetch goes through the client in Verifier.Client, which the app
// builds with package egress (https only, timeouts, size caps, no private
// destinations unless the operator allows them).
package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Refusal is why a token was refused; its text is safe to send as an
// RFC 6750 error_description (it never echoes the token's own values).
type Refusal struct{ reason string }

func (r *Refusal) Error() string { return r.reason }

func refusal(reason string) *Refusal { return &Refusal{reason} }

// The refusals. Anything else Verify returns is a failure to check (the
// IdP could not be reached), not a verdict on the token.
var (
	ErrMalformed   = refusal("the token is not a well-formed signed JWT")
	ErrAlgNone     = refusal(`the token is unsigned (alg none)`)
	ErrAlgorithm   = refusal("the token's signing algorithm is not accepted: only asymmetric ones (RS*, PS*, ES*, EdDSA)")
	ErrIssuer      = refusal("the token's issuer is not this tenant's identity provider")
	ErrUnknownKey  = refusal("the token is signed with a key the identity provider does not publish")
	ErrSignature   = refusal("the token's signature does not verify")
	ErrExpired     = refusal("the token expired")
	ErrNoExpiry    = refusal("the token has no expiry (exp)")
	ErrNotYetValid = refusal("the token is not valid yet (nbf is in the future)")
	ErrAudience    = refusal("the token's audience is not one this tenant accepts")
	ErrNoEmail     = refusal("the token lacks the <namespace>/email claim naming the user")
	ErrTenant      = refusal("the token's <namespace>/tenant claim does not name this tenant")
	ErrNoTenant    = refusal("the token lacks the <namespace>/tenant claim this tenant requires")
)

// algorithms are the signatures accepted: asymmetric only, so that a
// public key can never be used as an HMAC secret (algorithm confusion).
var algorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA,
}

// Leeway tolerates clocks running apart when checking nbf.
const Leeway = 30 * time.Second

// Identity is what a verified token says.
type Identity struct {
	Issuer   string
	Subject  string
	Email    string // the <ns>/email claim: the user's login
	Audience []string
	IssuedAt time.Time
	Expiry   time.Time
}

// Verifier verifies IdP tokens, keeping one provider (discovery, keys) per
// issuer.
type Verifier struct {
	Client *http.Client
	Now    func() time.Time
	Log    *slog.Logger
	// MetadataTTL is how long discovery and keys are trusted before they
	// are fetched again (default 1h); a failed discovery is retried after
	// a minute.
	MetadataTTL time.Duration
	// KeyRefetch is the least time between JWKS fetches caused by unknown
	// kids (default 10s).
	KeyRefetch time.Duration

	mu        sync.Mutex
	providers map[string]*provider
	group     singleflight.Group
}

type provider struct {
	verifier *oidc.IDTokenVerifier
	keys     *keySet
	err      error // discovery failed
	until    time.Time
}

// Header and claims read before the signature is checked, to refuse early
// without touching the network.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

type unverified struct {
	Issuer string `json:"iss"`
}

// Peek returns the issuer and the string claims of a JWT without verifying
// it: only to decide where to send it. ok is false for anything that is
// not a three-part JWT with a JSON payload.
func Peek(raw string) (issuer string, claims map[string]any, ok bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &claims) != nil {
		return "", nil, false
	}
	issuer, _ = claims["iss"].(string)
	return issuer, claims, true
}

// Verify checks raw as an access token of t's identity provider for tenant
// t and returns whom it names. A *Refusal says what is wrong with the
// token; any other error means it could not be checked now.
func (v *Verifier) Verify(ctx context.Context, raw string, t *store.Tenant) (*Identity, error) {
	idp := t.Settings.IdP
	h, err := readHeader(raw)
	if err != nil {
		return nil, err
	}
	iss, _, ok := Peek(raw)
	if !ok {
		return nil, ErrMalformed
	}
	if iss != idp.Issuer || iss == "" {
		return nil, ErrIssuer
	}
	p, err := v.provider(ctx, idp.Issuer)
	if err != nil {
		return nil, err
	}
	if err := p.keys.ensure(ctx, h.Kid); err != nil {
		return nil, err
	}
	tok, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		// The algorithm, issuer and key were checked above, and the key set
		// fetches nothing here: what is left is the signature (or a payload
		// that is not JSON claims, which a valid signature cannot make).
		return nil, ErrSignature
	}
	// From here on only the verified payload is read.
	var verified map[string]any
	if err := tok.Claims(&verified); err != nil {
		return nil, ErrMalformed
	}
	return v.check(tok, verified, t)
}

// readHeader decodes the JOSE header and refuses unsigned and symmetric
// tokens by name before anything else is looked at.
func readHeader(raw string) (*header, error) {
	first, _, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, ErrMalformed
	}
	b, err := base64.RawURLEncoding.DecodeString(first)
	var h header
	if err != nil || json.Unmarshal(b, &h) != nil {
		return nil, ErrMalformed
	}
	switch {
	case strings.EqualFold(h.Alg, "none"):
		return nil, ErrAlgNone
	case !slices.Contains(algorithms, h.Alg):
		return nil, ErrAlgorithm
	}
	return &h, nil
}

// check applies the time, audience and namespace rules to a token whose
// signature and issuer are good.
func (v *Verifier) check(tok *oidc.IDToken, claims map[string]any, t *store.Tenant) (*Identity, error) {
	now := v.Now()
	if _, ok := claims["exp"]; !ok || tok.Expiry.IsZero() {
		return nil, ErrNoExpiry
	}
	if !now.Before(tok.Expiry) {
		return nil, ErrExpired
	}
	if nbf, ok := claims["nbf"].(float64); ok && now.Add(Leeway).Before(time.Unix(int64(nbf), 0)) {
		return nil, ErrNotYetValid
	}
	idp := t.Settings.IdP
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(idp.Audiences, a) }) {
		return nil, ErrAudience
	}
	ns := idp.ClaimNamespace
	email, _ := claims[ns+"/email"].(string)
	if email == "" {
		return nil, ErrNoEmail
	}
	switch tn, present := claims[ns+"/tenant"]; {
	case present && tn != t.Name: // exact and case-sensitive, as tenant names are
		return nil, ErrTenant
	case !present && idp.RequireTenantClaim:
		return nil, ErrNoTenant
	}
	return &Identity{Issuer: tok.Issuer, Subject: tok.Subject, Email: email, Audience: tok.Audience,
		IssuedAt: tok.IssuedAt, Expiry: tok.Expiry}, nil
}

// provider returns the issuer's discovery and keys, fetching them when
// absent; concurrent callers share one fetch. A provider past its
// MetadataTTL is still used while a fresh one is fetched in the
// background, and kept if that fetch fails: an IdP's brief outage must not
// stop tokens it signed with keys Gatehouse already holds.
func (v *Verifier) provider(ctx context.Context, issuer string) (*provider, error) {
	now := v.Now()
	v.mu.Lock()
	p := v.providers[issuer]
	v.mu.Unlock()
	switch {
	case p != nil && now.Before(p.until):
		return p, p.err
	case p != nil && p.err == nil:
		v.refresh(ctx, issuer) // stale but good: use it meanwhile
		return p, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-v.refresh(ctx, issuer):
	}
	v.mu.Lock()
	p = v.providers[issuer]
	v.mu.Unlock()
	return p, p.err
}

// refresh fetches the issuer's metadata once however many ask, and
// stores the result unless it failed where a good provider was held (then
// that one is trusted for another retry interval).
func (v *Verifier) refresh(ctx context.Context, issuer string) <-chan singleflight.Result {
	return v.group.DoChan(issuer, func() (any, error) {
		// Not the caller's cancellation: others may be waiting on this
		// fetch. The client's timeout bounds it.
		fresh := v.discover(context.WithoutCancel(ctx), issuer)
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.providers == nil {
			v.providers = make(map[string]*provider)
		}
		if old := v.providers[issuer]; fresh.err != nil && old != nil && old.err == nil {
			kept := *old
			kept.until = fresh.until
			fresh = &kept
		}
		v.providers[issuer] = fresh
		return nil, nil
	})
}

func (v *Verifier) ttl() time.Duration {
	if v.MetadataTTL > 0 {
		return v.MetadataTTL
	}
	return time.Hour
}

// retry is how soon a failed discovery is tried again.
const retry = time.Minute

// discover reads the issuer's discovery document and its JWKS.
func (v *Verifier) discover(ctx context.Context, issuer string) *provider {
	now := v.Now()
	m, err := Discover(ctx, v.Client, issuer)
	if err != nil {
		v.Log.Warn("federation: identity provider discovery failed", "issuer", issuer, "err", err)
		return &provider{err: err, until: now.Add(min(retry, v.ttl()))}
	}
	ks := &keySet{url: m.JWKSURI, client: v.Client, now: v.Now, refetch: v.KeyRefetch}
	if err := ks.load(ctx); err != nil {
		v.Log.Warn("federation: identity provider keys unavailable", "issuer", issuer, "err", err)
		return &provider{err: err, until: now.Add(min(retry, v.ttl()))}
	}
	cfg := &oidc.Config{
		SkipClientIDCheck:    true, // access tokens: the audience rule is ours (several accepted values)
		SkipExpiryCheck:      true, // checked by check, with its own refusals
		SupportedSigningAlgs: algorithms,
		Now:                  v.Now,
	}
	return &provider{verifier: oidc.NewVerifier(issuer, ks, cfg), keys: ks, until: now.Add(v.ttl())}
}

// Metadata is what discovery found.
type Metadata struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	Algs    []string `json:"id_token_signing_alg_values_supported"`
}

// Discover fetches issuer's OpenID Connect discovery document through c
// (go-oidc checks that it names the same issuer).
func Discover(ctx context.Context, c *http.Client, issuer string) (*Metadata, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c), issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", issuer, short(err))
	}
	var m Metadata
	if err := p.Claims(&m); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	if m.JWKSURI == "" {
		return nil, errors.New("discovery of " + issuer + ": no jwks_uri")
	}
	return &m, nil
}

// Probe fetches issuer's discovery document and JWKS, as verification
// would, and reports what it found: for an admin's "test connection".
func Probe(ctx context.Context, c *http.Client, issuer string) (*Metadata, []string, error) {
	m, err := Discover(ctx, c, issuer)
	if err != nil {
		return nil, nil, err
	}
	keys, err := fetchKeys(ctx, c, m.JWKSURI)
	if err != nil {
		return m, nil, err
	}
	kids := make([]string, len(keys))
	for i, k := range keys {
		kids[i] = k.KeyID
	}
	return m, kids, nil
}

// short keeps an error's message to a line: go-oidc puts the whole body
// of a failed response in its errors, which would end up in logs and in
// the admin's test report.
func short(err error) error {
	const limit = 200
	if msg := err.Error(); len(msg) > limit {
		return &truncated{msg: msg[:limit] + "…", err: err}
	}
	return err
}

type truncated struct {
	msg string
	err error
}

func (t *truncated) Error() string { return t.msg }
func (t *truncated) Unwrap() error { return t.err }
