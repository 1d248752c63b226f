package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/audit"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Algorithms a deployment may sign with.
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// ValidAlg reports whether alg is one Gatehouse signs with.
func ValidAlg(alg string) bool {
	for _, a := range Algorithms {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// Key is a parsed signing key.
type Key struct {
	ID     string
	Alg    jose.SignatureAlgorithm
	Public crypto.PublicKey
	// Activates is when the key starts signing; it is published before.
	Activates time.Time
	Retired   *time.Time
	signer    *compactSigner // nil for keys that no longer sign
	mac       []byte         // HMAC key derived from the private key
}

// SignIDToken signs payload (JSON claims) as an OIDC ID token (typ JWT),
// so that an ID token can never pass for an access token.
func (k *Key) SignIDToken(payload []byte) (string, error) {
	if k.signer == nil {
		return "", errors.New("keys: key " + k.ID + " is retired")
	}
	return k.signer.signWith(k.signer.idHeader, payload)
}

// MAC returns HMAC-SHA256 of msg under a key derived from this signing key
// with HKDF, so that short-lived server-signed values (signed file links)
// rotate with the signing keys without the private key serving two uses.
func (k *Key) MAC(msg []byte) []byte {
	h := hmac.New(sha256.New, k.mac)
	h.Write(msg)
	return h.Sum(nil)
}

// SignJWT signs payload (JSON claims) as an at+jwt JWS in compact form.
func (k *Key) SignJWT(payload []byte) (string, error) {
	if k.signer == nil {
		return "", errors.New("keys: key " + k.ID + " is retired")
	}
	return k.signer.sign(payload)
}

// set is an immutable snapshot swapped atomically on change.
type set struct {
	// signers are the keys that sign now or will, by activation time,
	// oldest first: the last one activated signs. Usually one; two while
	// a key is published ahead of use.
	signers []*Key
	byID    map[string]*Key
	jwks    []byte
}

// current returns the key that signs at now.
func (s *set) current(now func() time.Time) *Key {
	if len(s.signers) == 1 {
		return s.signers[0]
	}
	t := now()
	for i := len(s.signers) - 1; i > 0; i-- {
		if !s.signers[i].Activates.After(t) {
			return s.signers[i]
		}
	}
	return s.signers[0]
}

// Manager holds the keys in memory.
type Manager struct {
	Store  store.Keys
	Sealer *secret.Sealer
	Alg    jose.SignatureAlgorithm
	// Overlap is how long a retired key stays published: at least the
	// longest access-token lifetime.
	Overlap time.Duration
	// PublishAhead is how long a scheduled or requested rotation publishes
	// the new key before it signs (see Rotate).
	PublishAhead time.Duration
	Log          *slog.Logger
	Now          func() time.Time

	keys       atomic.Pointer[set]
	mu         sync.Mutex // serializes Load and Rotate
	lastReload atomic.Int64
}

// Load reads the keys from the store, creating the first key when there is
// none. Call it at start and whenever another replica may have rotated.
func (m *Manager) Load(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := m.Store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if len(recs) == 0 {
		rec, err := m.generate(m.Alg)
		if err != nil {
			return err
		}
		if err := m.Store.CreateKey(ctx, rec, store.Event{Time: m.Now(), Actor: "system", Action: audit.KeyCreate, Target: rec.ID, Outcome: "success"}); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("keys: %w", err)
		}
		if recs, err = m.Store.ListKeys(ctx); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	}
	s, err := m.parse(recs)
	if err != nil {
		return err
	}
	m.keys.Store(s)
	m.lastReload.Store(m.Now().UnixNano())
	return nil
}

// Rotate publishes a new key at once and makes it sign after ahead (at
// once when ahead is 0), retiring the others as of then; they stay
// published for Overlap. Publishing ahead lets every replica and verifier
// load the new key before any token carries its kid: ahead should exceed
// the replicas' key reload interval and the JWKS cache lifetime. Keys
// retired longer ago than Overlap are deleted.
func (m *Manager) Rotate(ctx context.Context, alg jose.SignatureAlgorithm, ahead time.Duration, ev store.Event) (*Key, error) {
	if alg == "" {
		alg = m.Alg
	}
	rec, err := m.generate(alg)
	if err != nil {
		return nil, err
	}
	rec.ActivatesAt = rec.CreatedAt.Add(max(ahead, 0))
	m.mu.Lock()
	err = m.rotate(ctx, rec, ev)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := m.Load(ctx); err != nil {
		return nil, err
	}
	k, ok := m.keys.Load().byID[rec.ID]
	if !ok {
		return nil, fmt.Errorf("keys: new key %s not found after rotation", rec.ID)
	}
	return k, nil
}

func (m *Manager) rotate(ctx context.Context, rec *store.SigningKey, ev store.Event) error {
	ev.Target = rec.ID
	if err := m.Store.RotateKey(ctx, rec, ev); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := m.Store.DeleteKeysRetiredBefore(ctx, rec.CreatedAt.Add(-m.Overlap)); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

// Newest returns the key that signs last: the current one, or the one
// published ahead to take over from it.
func (m *Manager) Newest() *Key {
	s := m.keys.Load()
	return s.signers[len(s.signers)-1]
}

// Current returns the key that signs new tokens.
func (m *Manager) Current() *Key { return m.keys.Load().current(m.Now) }

// Lookup finds a published key by id. An unknown id triggers at most one
// reload from the store per second, so a key rotated on another replica is
// found within a second without letting junk kids hammer the store.
func (m *Manager) Lookup(ctx context.Context, kid string) (*Key, bool) {
	if k, ok := m.keys.Load().byID[kid]; ok {
		return k, true
	}
	last := m.lastReload.Load()
	if m.Now().UnixNano()-last < int64(time.Second) || !m.lastReload.CompareAndSwap(last, m.Now().UnixNano()) {
		return nil, false
	}
	if err := m.Load(ctx); err != nil {
		m.Log.Warn("keys: reload failed", "err", err)
		return nil, false
	}
	k, ok := m.keys.Load().byID[kid]
	return k, ok
}

// All returns every published key, current first.
func (m *Manager) All() []*Key {
	s := m.keys.Load()
	cur := s.current(m.Now)
	out := []*Key{cur}
	for _, k := range s.byID {
		if k != cur {
			out = append(out, k)
		}
	}
	return out
}

// JWKS returns the RFC 7517 key set document.
func (m *Manager) JWKS() []byte { return m.keys.Load().jwks }

func (m *Manager) parse(recs []store.SigningKey) (*set, error) {
	s := &set{byID: map[string]*Key{}}
	now := m.Now()
	var pubs []json.RawMessage
	var privs []crypto.Signer
	keys := make([]*Key, 0, len(recs))
	for i := range recs {
		rec := &recs[i]
		der, err := m.Sealer.Open(rec.Sealed, []byte(rec.ID))
		if err != nil {
			return nil, fmt.Errorf("keys: key %s: %w", rec.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("keys: key %s: %w", rec.ID, err)
		}
		mac, err := hkdf.Key(sha256.New, der, nil, "gatehouse mac v1 "+rec.ID, 32)
		if err != nil {
			return nil, fmt.Errorf("keys: key %s: %w", rec.ID, err)
		}
		k := &Key{ID: rec.ID, Alg: jose.SignatureAlgorithm(rec.Alg), Public: priv.(crypto.Signer).Public(),
			Activates: rec.ActivatesAt, Retired: rec.RetiredAt, mac: mac}
		s.byID[k.ID] = k
		pubs = append(pubs, rec.Public)
		keys, privs = append(keys, k), append(privs, priv.(crypto.Signer))
	}
	// Keys not retired by now sign, or will once active; ListKeys is
	// oldest first. Should every key be retired (a damaged table), the
	// newest signs anyway rather than leaving the server unable to start.
	for i, k := range keys {
		if (k.Retired == nil || k.Retired.After(now)) || (i == len(keys)-1 && len(s.signers) == 0) {
			signer, err := newCompactSigner(k.Alg, k.ID, privs[i])
			if err != nil {
				return nil, fmt.Errorf("keys: key %s: %w", k.ID, err)
			}
			k.signer = signer
			s.signers = append(s.signers, k)
		}
	}
	if len(s.signers) == 0 {
		return nil, errors.New("keys: no signing key")
	}
	slices.SortStableFunc(s.signers, func(a, b *Key) int { return a.Activates.Compare(b.Activates) })
	jwks, err := json.Marshal(map[string]any{"keys": pubs})
	if err != nil {
		return nil, err
	}
	s.jwks = jwks
	return s, nil
}

// generate makes a new key record with its private part sealed.
func (m *Manager) generate(alg jose.SignatureAlgorithm) (*store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: string(alg), Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	pub, err := jwk.MarshalJSON()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{ID: jwk.KeyID, Alg: string(alg), Sealed: m.Sealer.Seal(der, []byte(jwk.KeyID)),
		Public: pub, CreatedAt: m.Now()}, nil
}

// MaxTokenLifetime bounds every access token (see clients.MaxTTL); a retired
// key stays published this long so no token it signed outlives its key.
const MaxTokenLifetime = 30 * 24 * time.Hour
