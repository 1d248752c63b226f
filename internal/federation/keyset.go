package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse/gatehouse/internal/egress"
)

// maxKeys bounds the keys kept from one JWKS: an IdP publishes a handful.
const maxKeys = 50

// keySet is an IdP's JWKS, for go-oidc's verifier (oidc.KeySet). It stands
// in for oidc.RemoteKeySet, which refetches on every unknown kid with no
// pause between fetches: here ensure refetches at most once per refetch
// interval, and tells an unknown key apart from a bad signature. Readers
// never wait for a fetch: the keys are swapped atomically, and concurrent
// fetches are one.
type keySet struct {
	url     string
	client  *http.Client
	now     func() time.Time
	refetch time.Duration

	keys    atomic.Pointer[[]jose.JSONWebKey]
	mu      sync.Mutex // guards fetched
	fetched time.Time  // last fetch started
	group   singleflight.Group
}

// ensure makes sure the set holds a key for kid ("": the only key),
// fetching the JWKS if it does not and the last fetch is old enough.
func (k *keySet) ensure(ctx context.Context, kid string) error {
	if k.has(kid) {
		return nil
	}
	if !k.mayFetch() {
		return ErrUnknownKey
	}
	ch := k.group.DoChan("", func() (any, error) {
		// Not the caller's cancellation: a caller that hangs up must not
		// abort the fetch others wait for. The client's timeout bounds it.
		keys, err := fetchKeys(context.WithoutCancel(ctx), k.client, k.url)
		if err == nil {
			k.keys.Store(&keys)
		}
		return nil, err
	})
	select {
	case <-ctx.Done():
		return ctx.Err()
	case res := <-ch:
		switch {
		case k.has(kid):
			return nil
		case res.Err != nil && k.keys.Load() == nil:
			return res.Err // never had keys: the IdP is unreachable, not the token bad
		}
		return ErrUnknownKey
	}
}

// load fetches the JWKS now (a provider's first use).
func (k *keySet) load(ctx context.Context) error {
	k.mayFetch()
	keys, err := fetchKeys(ctx, k.client, k.url)
	if err == nil {
		k.keys.Store(&keys)
	}
	return err
}

// mayFetch reports whether a fetch may start now, and if so records it.
func (k *keySet) mayFetch() bool {
	wait := k.refetch
	if wait <= 0 {
		wait = 10 * time.Second
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if !k.fetched.IsZero() && now.Sub(k.fetched) < wait {
		return false
	}
	k.fetched = now
	return true
}

// has reports whether the set holds a key for kid; a token without a kid
// is matched only when the set holds a single key, so that it cannot make
// Gatehouse try every key.
func (k *keySet) has(kid string) bool {
	return k.find(kid) != nil
}

func (k *keySet) find(kid string) *jose.JSONWebKey {
	p := k.keys.Load()
	if p == nil {
		return nil
	}
	keys := *p
	if kid == "" {
		if len(keys) == 1 {
			return &keys[0]
		}
		return nil
	}
	for i := range keys {
		if keys[i].KeyID == kid {
			return &keys[i]
		}
	}
	return nil
}

// VerifySignature implements oidc.KeySet over the keys held now; ensure has
// already fetched what there is to fetch. go-oidc has checked the
// algorithm against the allowed list before calling.
func (k *keySet) VerifySignature(_ context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, joseAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	key := k.find(jws.Signatures[0].Header.KeyID)
	if key == nil {
		return nil, ErrUnknownKey
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, ErrSignature
	}
	return payload, nil
}

var joseAlgorithms = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algorithms))
	for i, a := range algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// fetchKeys reads a JWKS, keeping the public signing keys (at most
// maxKeys).
func fetchKeys(ctx context.Context, c *http.Client, url string) ([]jose.JSONWebKey, error) {
	body, err := egress.Get(ctx, c, url, "application/json")
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", url, err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", url, err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.IsPublic() && (key.Use == "" || key.Use == "sig") && len(keys) < maxKeys {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS %s: no public signing keys", url)
	}
	return keys, nil
}
