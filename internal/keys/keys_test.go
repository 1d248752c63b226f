package keys_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

var ctx = context.Background()

func manager(t *testing.T, s store.Keys, masterKey string) *keys.Manager {
	t.Helper()
	k, _ := secret.ParseMasterKey(masterKey)
	sealer, _ := secret.NewSealer(k)
	return &keys.Manager{Store: s, Sealer: sealer, Alg: jose.ES256, Overlap: time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
}

func openStore(t *testing.T) store.Store {
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Two replicas rotating at once both end up with a signing key, and every
// key either of them signs with is in both JWKS documents.
func TestConcurrentRotation(t *testing.T) {
	s := openStore(t)
	mk := secret.NewMasterKey()
	a, b := manager(t, s, mk), manager(t, s, mk)
	if err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, m := range []*keys.Manager{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Rotate(ctx, "", 0, store.Event{Action: "key.rotate", Outcome: "success"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, m := range []*keys.Manager{a, b} {
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Current().SignJWT([]byte(`{}`)); err != nil {
			t.Fatalf("current key cannot sign: %v", err)
		}
	}
	if a.Current().ID != b.Current().ID {
		t.Fatalf("replicas disagree on the signing key: %s vs %s", a.Current().ID, b.Current().ID)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(a.JWKS(), &set); err != nil || len(set.Keys) != 5 {
		t.Fatalf("JWKS has %d keys, %v", len(set.Keys), err)
	}
	for _, k := range set.Keys {
		if k.IsPublic() != true || k.Use != "sig" || k.KeyID == "" {
			t.Fatalf("JWKS entry %+v", k)
		}
	}
}

// Keys sealed with one master key cannot be opened with another.
func TestWrongMasterKey(t *testing.T) {
	s := openStore(t)
	if err := manager(t, s, secret.NewMasterKey()).Load(ctx); err != nil {
		t.Fatal(err)
	}
	err := manager(t, s, secret.NewMasterKey()).Load(ctx)
	if !errors.Is(err, secret.ErrUnseal) {
		t.Fatalf("Load with another master key: %v", err)
	}
}

// A retired key stays published for the overlap, then is deleted.
func TestRetiredKeysExpire(t *testing.T) {
	s := openStore(t)
	m := manager(t, s, secret.NewMasterKey())
	now := time.Now()
	m.Now = func() time.Time { return now }
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	first := m.Current().ID
	now = now.Add(time.Minute)
	m.Rotate(ctx, jose.EdDSA, 0, store.Event{})
	if _, ok := m.Lookup(ctx, first); !ok || m.Current().Alg != jose.EdDSA {
		t.Fatal("the retired key is not published, or the new key has the wrong algorithm")
	}
	now = now.Add(2 * time.Hour) // past the overlap
	m.Rotate(ctx, "", 0, store.Event{})
	if _, ok := m.Lookup(ctx, first); ok {
		t.Fatal("a key retired longer ago than the overlap is still published")
	}
	if len(m.All()) != 2 {
		t.Fatalf("%d keys published, want 2", len(m.All()))
	}
}

// A key rotated with a publish-ahead interval is in the JWKS of every
// replica that loads the keys at once, and signs only once the interval has
// passed: no token carries a kid a replica or verifier has not been shown.
func TestPublishAhead(t *testing.T) {
	s := openStore(t)
	mk := secret.NewMasterKey()
	now := time.Now()
	clock := func() time.Time { return now }
	a, b := manager(t, s, mk), manager(t, s, mk)
	a.Now, b.Now = clock, clock
	for _, m := range []*keys.Manager{a, b} {
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	old := a.Current().ID
	now = now.Add(time.Second) // keys made in one microsecond are ordered by id, not age
	next, err := a.Rotate(ctx, "", 10*time.Minute, store.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if next.ID == old || !next.Activates.Equal(now.Add(10*time.Minute).UTC().Truncate(time.Microsecond)) {
		t.Fatalf("rotated key %s activates %s", next.ID, next.Activates)
	}
	if err := b.Load(ctx); err != nil { // b's periodic reload
		t.Fatal(err)
	}
	for name, m := range map[string]*keys.Manager{"rotating replica": a, "other replica": b} {
		if m.Current().ID != old {
			t.Fatalf("%s signs with the new key before its time", name)
		}
		if !strings.Contains(string(m.JWKS()), `"kid":"`+next.ID+`"`) {
			t.Fatalf("%s does not publish the new key ahead of use", name)
		}
		if got := m.All()[0].ID; got != old {
			t.Fatalf("%s lists %s first, want the signing key", name, got)
		}
	}

	now = now.Add(10*time.Minute - time.Second)
	if a.Current().ID != old || b.Current().ID != old {
		t.Fatal("the new key signs a second early")
	}
	now = now.Add(time.Second)
	for name, m := range map[string]*keys.Manager{"rotating replica": a, "other replica": b} {
		if m.Current().ID != next.ID {
			t.Fatalf("%s does not sign with the new key once it is due (no reload needed)", name)
		}
		tok, err := m.Current().SignJWT([]byte(`{}`))
		if err != nil || !strings.Contains(header(t, tok), next.ID) {
			t.Fatalf("%s signs %q, %v", name, tok, err)
		}
		if k, ok := m.Lookup(ctx, old); !ok || k.Retired == nil {
			t.Fatalf("%s no longer publishes the old key, or it is not retired", name)
		}
	}

	// An immediate rotation (a compromised key) signs at once.
	now = now.Add(time.Minute)
	urgent, err := a.Rotate(ctx, "", 0, store.Event{})
	if err != nil || a.Current().ID != urgent.ID {
		t.Fatalf("immediate rotation: current %s, want %s (%v)", a.Current().ID, urgent.ID, err)
	}
}

func header(t *testing.T, jws string) string {
	t.Helper()
	h, _, _ := strings.Cut(jws, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
