package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/egress"
)

// keySet is an IdP's JWKS, for go-oidc's verifier (oidc.KeySet). It stands
// in for oidc.RemoteKeySet, which refetches on every unknown kid with no
// pause between fetches: here ensure refetches at most once per refetch
// interval, and tells an unknown key apart from a bad signature.
type keySet struct {
	url     string
	client  *http.Client
	now     func() time.Time
	refetch time.Duration

	mu      sync.Mutex // one fetch at a time; guards what follows
	keys    []jose.JSONWebKey
	fetched time.Time // last fetch attempt
}

// ensure makes sure the set holds a key with this kid (any key for ""),
// fetching the JWKS if it does not and the last fetch is old enough.
func (k *keySet) ensure(ctx context.Context, kid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.has(kid) {
		return nil
	}
	wait := k.refetch
	if wait <= 0 {
		wait = 10 * time.Second
	}
	if !k.fetched.IsZero() && k.now().Sub(k.fetched) < wait {
		return ErrUnknownKey
	}
	k.fetched = k.now()
	keys, err := fetchKeys(ctx, k.client, k.url)
	if err != nil {
		if k.keys != nil {
			return ErrUnknownKey // keep the old keys; the kid is not among them
		}
		return err
	}
	k.keys = keys
	if !k.has(kid) {
		return ErrUnknownKey
	}
	return nil
}

func (k *keySet) has(kid string) bool {
	for _, key := range k.keys {
		if kid == "" || key.KeyID == kid {
			return true
		}
	}
	return false
}

// VerifySignature implements oidc.KeySet over the keys held now; ensure has
// already fetched what there is to fetch. go-oidc has checked the
// algorithm against the allowed list before calling.
func (k *keySet) VerifySignature(_ context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, joseAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.Lock()
	keys := k.keys
	k.mu.Unlock()
	for i := range keys {
		if kid == "" || keys[i].KeyID == kid {
			if payload, err := jws.Verify(&keys[i]); err == nil {
				return payload, nil
			}
		}
	}
	return nil, ErrSignature
}

var joseAlgorithms = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algorithms))
	for i, a := range algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// fetchKeys reads a JWKS, keeping the public signing keys.
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
		if key.IsPublic() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS %s: no public signing keys", url)
	}
	return keys, nil
}
