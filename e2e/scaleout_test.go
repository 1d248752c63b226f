package e2e

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// Three `gatehouse serve` processes on one PostgreSQL database and one
// Redis, as behind a load balancer: whatever one of them is told, all of
// them honour.
func TestThreeReplicas(t *testing.T) {
	if pgtest.ServerURL() == "" {
		t.Skip("replicas need PostgreSQL (GATEHOUSE_TEST_POSTGRES)")
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second); err != nil {
		t.Skip("replicas need Redis on 127.0.0.1:6379")
	} else {
		c.Close()
	}
	db := pgtest.URL(t)
	up := newUpstream(t)
	routes := writeRoutes(t, t.TempDir(), `
routes:
  - name: submissions
    prefix: /api/{tenant}/submissions
    upstream: `+up.URL+`
    read_scope: submissions:read
`)
	opts := apptest.ProcessOptions{DB: db, MasterKey: secret.NewMasterKey(), AdminToken: secret.New(secret.AdminToken),
		Issuer: "http://gatehouse.test", Args: []string{"--routes", routes, "--redis", "redis://127.0.0.1:6379/0",
			"--refresh-grace", "10s", "--key-reload", "500ms", "--key-publish-ahead", "3s"}}
	var reps [3]*apptest.Process
	var wg sync.WaitGroup
	for i := range reps {
		wg.Add(1)
		go func() { defer wg.Done(); reps[i] = apptest.StartProcess(t, opts) }() // migrating together, under the lock
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	a, b, c := reps[0].AsServer(), reps[1].AsServer(), reps[2].AsServer()
	all := []*apptest.Server{a, b, c}
	scopes := []string{"submissions:read"}
	cl := setup(t, a, "acme", admin.ClientInput{Scopes: &scopes})

	t.Run("a secret rotated through one replica is honoured by all", func(t *testing.T) {
		tokenOn := func(s *apptest.Server, sec string) int {
			return postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, cl.ClientID, sec).Status
		}
		rot, err := a.Admin.RotateSecret(ctx, "acme", cl.ClientID, admin.RotateInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			within(t, 2*time.Second, "the new secret on "+s.URL, func() bool { return tokenOn(s, rot.ClientSecret) == 200 })
			if st := tokenOn(s, cl.ClientSecret); st != 200 {
				t.Errorf("the previous secret during the overlap on %s: %d", s.URL, st)
			}
		}
		if _, err := a.Admin.RetireSecret(ctx, "acme", cl.ClientID, rot.Client.Secrets[0].ID); err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			within(t, 2*time.Second, "the retired secret refused on "+s.URL, func() bool { return tokenOn(s, cl.ClientSecret) == 401 })
		}
		cl.ClientSecret = rot.ClientSecret
	})

	// A user, signed in through the authorization code flow on A.
	f := &flow{s: a, client: setup(t, a, "acme", admin.ClientInput{Grants: &[]string{"authorization_code"},
		RedirectURIs: &[]string{appCallback}, Scopes: &[]string{"openid", "submissions:read", "gatehouse:tokens"}})}
	f.conf = &oauth2.Config{ClientID: f.client.ClientID, ClientSecret: f.client.ClientSecret, RedirectURL: appCallback,
		Scopes: []string{"openid", "submissions:read", "gatehouse:tokens"}, Endpoint: oauth2.Endpoint{AuthURL: a.URL + "/oauth2/authorize",
			TokenURL: a.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	user, err := a.Admin.CreateUser(ctx, "acme", admin.UserInput{Email: ptr("ada@acme.example"), Name: ptr("Ada"),
		Password: ptr(userPassword), Roles: &[]string{"program_member"}, APIEnabled: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.exchange(t)

	t.Run("a PAT revoked through one replica is refused by all within 1s", func(t *testing.T) {
		r := sendJSON(t, b, "POST", "/auth/tokens", tok.AccessToken, admin.PersonalTokenInput{Name: "replicas", Expiry: "30d"})
		if r.Status != 201 {
			t.Fatalf("create a PAT on B: %d %s", r.Status, r.Body)
		}
		pat, id := r.JSON["token"].(string), r.JSON["id"].(string)
		for _, s := range all {
			if r := call(t, s, "GET", "/api/acme/submissions/1", pat, nil); r.Status != 200 {
				t.Fatalf("the PAT on %s: %d %s", s.URL, r.Status, r.Body)
			}
		}
		if err := a.Admin.RevokeUserToken(ctx, "acme", user.ID, id); err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			within(t, time.Second, "the revoked PAT on "+s.URL, func() bool {
				return call(t, s, "GET", "/api/acme/submissions/1", pat, nil).Status == 401
			})
		}
	})

	t.Run("a refresh token used at once on two replicas yields one new pair", func(t *testing.T) {
		const n = 6
		resps := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); resps[i] = refresh(t, all[i%2], f.client, tok.RefreshToken) }()
		}
		wg.Wait()
		pairs := map[string]bool{}
		for i, r := range resps {
			switch r.Status {
			case 200:
				pairs[r.JSON["refresh_token"].(string)+" "+r.JSON["access_token"].(string)] = true
			case 400: // invalid_grant: lost the race (outside the grace window's replay)
			default:
				t.Errorf("refresh %d on replica %d: %d %s", i, i%2, r.Status, r.Body)
			}
		}
		if len(pairs) != 1 {
			t.Fatalf("%d different token pairs from one refresh token, want exactly 1", len(pairs))
		}
		var rt string
		for p := range pairs {
			rt, _, _ = strings.Cut(p, " ")
		}
		if r := refresh(t, c, f.client, rt); r.Status != 200 {
			t.Fatalf("the one new refresh token, on the third replica: %d %s", r.Status, r.Body)
		}
	})

	t.Run("the rate-limit budget is shared", func(t *testing.T) {
		// 600 reads a minute (the default budget) for one client, spent on
		// three replicas: 900 reads in a burst would all pass per replica.
		jwt := token(t, a, cl, nil)
		var ok, limited atomic.Int64
		var perReplica [3]atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 150 {
					r := call(t, all[(w+i)%3], "GET", "/api/acme/submissions/1", jwt, nil)
					switch r.Status {
					case 200:
						ok.Add(1)
					case 429:
						limited.Add(1)
						perReplica[(w+i)%3].Add(1)
					default:
						t.Errorf("%d %s", r.Status, r.Body)
					}
				}
			}()
		}
		wg.Wait()
		// GCRA gives back 10 a second while the burst runs.
		refill := int64(time.Since(start).Seconds()*10) + 1
		t.Logf("900 reads on three replicas in %s: %d let through, %d refused (%d, %d, %d by replica)",
			time.Since(start).Round(time.Millisecond), ok.Load(), limited.Load(), perReplica[0].Load(), perReplica[1].Load(), perReplica[2].Load())
		if ok.Load() < 600 || ok.Load() > 600+refill {
			t.Errorf("%d reads let through, want the shared 600 (+%d refilled while the burst ran)", ok.Load(), refill)
		}
		for i := range perReplica {
			if perReplica[i].Load() == 0 {
				t.Errorf("replica %d refused nothing: its budget is not the shared one", i)
			}
		}
	})

	t.Run("a key rotated on one replica is published everywhere before anyone signs with it", func(t *testing.T) {
		// A verifier that refetches the key set every second (as one that
		// honours max-age would, scaled down), from any replica, and never
		// on an unknown kid: with the key published 3s ahead and replicas
		// reloading every 500ms, no token it sees may carry a kid it lacks.
		var mu sync.Mutex
		var known jose.JSONWebKeySet
		fetch := func(s *apptest.Server) {
			resp, err := s.HTTP.Get(s.URL + "/oauth2/jwks")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var set jose.JSONWebKeySet
			if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			known = set
			mu.Unlock()
		}
		fetch(c)
		stop := make(chan struct{})
		var bg sync.WaitGroup
		bg.Add(1)
		go func() {
			defer bg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
					fetch(all[i%3])
				}
			}
		}()
		before := map[string]bool{}
		for _, k := range known.Keys {
			before[k.KeyID] = true
		}
		k, err := b.Admin.RotateKey(ctx, admin.RotateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		if k.Current || !k.ActivatesAt.After(time.Now()) {
			t.Fatalf("the new key %+v signs at once; want it published ahead", k)
		}
		signedNew := map[string]bool{}
		var verified, unknown int
		deadline := time.Now().Add(15 * time.Second)
		for len(signedNew) < 3 && time.Now().Before(deadline) {
			for _, s := range all {
				jwt := token(t, s, cl, nil)
				jws, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
				if err != nil {
					t.Fatal(err)
				}
				kid := jws.Signatures[0].Header.KeyID
				mu.Lock()
				keys := known.Key(kid)
				mu.Unlock()
				if len(keys) == 0 {
					unknown++
					t.Errorf("%s signed with kid %s, not in the key set a verifier fetched within the last second", s.URL, kid)
					continue
				}
				if _, err := jws.Verify(keys[0]); err != nil {
					t.Errorf("token of %s does not verify with its published key: %v", s.URL, err)
				}
				verified++
				if kid == k.KID {
					signedNew[s.URL] = true
				} else if !before[kid] {
					t.Errorf("%s signed with %s, neither the old key nor the rotated one", s.URL, kid)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		bg.Wait()
		if len(signedNew) != 3 {
			t.Errorf("replicas signing with the new key: %v, want all three without a restart", signedNew)
		}
		t.Logf("%d tokens verified across the rotation with a cached key set, %d with an unknown kid", verified, unknown)
	})
}
