package e2e

// The authorization matrix (docs/security.md, "The authorization model"):
// every credential kind is a row, every event that can take authority
// away (or hand more out) is a column, and each cell states what the
// gateway, introspection and, where the kind has one, refresh answer after
// the event. One model decides all of them: principal = holder ∩
// credential, evaluated now. Each column runs in a world of its own, on
// SQLite and PostgreSQL, on the replica that took the event (at once) and
// on a second replica sharing the PostgreSQL database (within the
// deny-list refresh bound).

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/federation/idptest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// The rows.
type credKind string

const (
	kClientJWT    credKind = "client JWT"
	kClientOpaque credKind = "client opaque"
	kCodeJWT      credKind = "code-flow JWT"
	kCodeOpaque   credKind = "code-flow opaque"
	kKeyUser      credKind = "API-key session (user)"
	kKeyClient    credKind = "API-key session (client)"
	kPAT          credKind = "PAT"
	kIdP          credKind = "IdP token"
)

var credKinds = []credKind{kClientJWT, kClientOpaque, kCodeJWT, kCodeOpaque, kKeyUser, kKeyClient, kPAT, kIdP}

// introState is what introspection says of a token: inactive, or active
// with or without the route's read scope among its scopes.
type introState string

const (
	inactive introState = "inactive"
	withRead introState = "active, with submissions:read"
	noRead   introState = "active, without submissions:read"
)

// cell is one expectation. refresh is 200 (a new pair), refused (any 4xx)
// or none for kinds without a refresh token.
type cell struct {
	gateway int
	intro   introState
	refresh int
}

const (
	none    = 0
	refused = -1
)

// ok is every row before any event.
var ok = map[credKind]cell{
	kClientJWT: {200, withRead, none}, kClientOpaque: {200, withRead, none},
	kCodeJWT: {200, withRead, 200}, kCodeOpaque: {200, withRead, 200},
	kKeyUser: {200, withRead, 200}, kKeyClient: {200, withRead, 200},
	kPAT: {200, withRead, none}, kIdP: {200, withRead, none},
}

// with is ok with some cells changed.
func with(changes map[credKind]cell) map[credKind]cell {
	out := map[credKind]cell{}
	for k, c := range ok {
		out[k] = c
	}
	for k, c := range changes {
		out[k] = c
	}
	return out
}

var (
	dead      = cell{401, inactive, none}
	deadFam   = cell{401, inactive, refused}
	forbidden = cell{403, inactive, none}
)

// matrixColumn is one event: what it does (through replica a) and the
// row's cells after it. where is the tenant whose route and introspector
// the cells are checked on ("" for the row's own).
type matrixColumn struct {
	name  string
	event func(w *matrixWorld, t *testing.T, a *apptest.Server)
	where string
	want  map[credKind]cell
	// skip lists rows the event does not apply to, with why.
	skip map[credKind]string
}

var matrixColumns = []matrixColumn{
	{name: "revoke the credential", event: (*matrixWorld).revokeCredentials, want: with(map[credKind]cell{
		kClientJWT: dead, kClientOpaque: dead,
		// An access token revoked alone leaves its family: the refresh
		// token still gets a new pair (RFC 7009 §2.1 lets a server stop
		// there).
		kCodeJWT: {401, inactive, 200}, kCodeOpaque: {401, inactive, 200},
		kKeyUser: deadFam, kKeyClient: deadFam, // the API key itself, revoked
		kPAT: dead,
	}), skip: map[credKind]string{kIdP: "an identity provider's token is the IdP's to revoke"}},
	{name: "revoke its family", event: (*matrixWorld).revokeFamilies, want: with(map[credKind]cell{
		kCodeJWT: deadFam, kCodeOpaque: deadFam, kKeyUser: deadFam, kKeyClient: deadFam,
	})},
	{name: "delete the user", event: (*matrixWorld).deleteUsers, want: with(map[credKind]cell{
		kCodeJWT: deadFam, kCodeOpaque: deadFam, kKeyUser: deadFam, kPAT: dead, kIdP: dead,
	})},
	{name: "remove a role", event: (*matrixWorld).removeRoles, want: with(map[credKind]cell{
		// Still active, but the role's scope is gone; the family held
		// nothing else and ends at its next refresh.
		kCodeJWT: {403, noRead, refused}, kCodeOpaque: {403, noRead, refused},
		kKeyUser: {403, noRead, refused}, kPAT: {403, noRead, none}, kIdP: {403, noRead, none},
	})},
	{name: "remove API access", event: (*matrixWorld).removeAPIAccess, want: with(map[credKind]cell{
		// The user's families end (giving access back does not revive
		// them); a PAT or an IdP token is refused while access is off.
		kCodeJWT: deadFam, kCodeOpaque: deadFam, kKeyUser: deadFam, kPAT: forbidden, kIdP: forbidden,
	})},
	{name: "remove a scope from the client", event: (*matrixWorld).removeClientScope, want: with(map[credKind]cell{
		kClientJWT: {403, noRead, none}, kClientOpaque: {403, noRead, none},
		kCodeJWT: {403, noRead, refused}, kCodeOpaque: {403, noRead, refused},
		// The key's session keeps the client's other scope (write).
		kKeyClient: {403, noRead, 200},
	})},
	{name: "delete the client", event: (*matrixWorld).deleteClients, want: with(map[credKind]cell{
		kClientJWT: dead, kClientOpaque: dead, kCodeJWT: deadFam, kCodeOpaque: deadFam, kKeyClient: deadFam,
	})},
	{name: "grant the client another tenant", event: (*matrixWorld).grantBeta, where: "beta", want: with(map[credKind]cell{
		// Checked on beta's route, introspected by beta's client: a
		// client's credential covers its grants, a user's never does.
		kCodeJWT: {403, inactive, 200}, kCodeOpaque: {403, inactive, 200},
		kKeyUser: {403, inactive, 200}, kPAT: {403, inactive, none},
		kIdP: {401, inactive, none}, // beta takes PATs, not identity-provider tokens
	})},
	{name: "change the tenant's budget", event: (*matrixWorld).tightenBudgets, want: with(map[credKind]cell{
		kClientJWT: {429, withRead, none}, kClientOpaque: {429, withRead, none},
		kCodeJWT: {429, withRead, 200}, kCodeOpaque: {429, withRead, 200},
		kKeyUser: {429, withRead, 200}, kKeyClient: {429, withRead, 200},
		kPAT: {429, withRead, none}, kIdP: {429, withRead, none},
	})},
}

func TestAuthorizationMatrix(t *testing.T) {
	apptest.Backends(t, func(t *testing.T, db func(*testing.T) string) {
		for _, col := range matrixColumns {
			t.Run(col.name, func(t *testing.T) {
				t.Parallel()
				runColumn(t, col, db(t), false)
			})
		}
	})
	t.Run("postgres, second replica", func(t *testing.T) {
		if pgtest.ServerURL() == "" {
			t.Skip("GATEHOUSE_TEST_POSTGRES not set")
		}
		for _, col := range matrixColumns {
			t.Run(col.name, func(t *testing.T) {
				t.Parallel()
				runColumn(t, col, pgtest.URL(t), true)
			})
		}
	})
}

// runColumn builds a world, checks every row is good, applies the event
// through replica a and checks every cell: on a at once, or on replica b
// within the deny-list refresh bound.
func runColumn(t *testing.T, col matrixColumn, db string, replicas bool) {
	w := newMatrixWorld(t, db)
	on := w.a
	if replicas {
		on = apptest.Start(t, db, func(c *config.Config) {
			c.MasterKey, c.Issuer, c.Routes, c.EgressAllowPrivate = w.a.Config.MasterKey, w.a.URL, w.a.Config.Routes, true
		})
	}
	for _, k := range credKinds {
		if got := w.observe(t, on, k, ""); got != ok[k] {
			t.Fatalf("%s before the event: %+v, want %+v", k, got, ok[k])
		}
	}
	if col.where != "" { // the column's tenant is not covered by anyone before
		for _, k := range credKinds {
			if got := w.observe(t, on, k, col.where); got.gateway == 200 || got.intro != inactive {
				t.Fatalf("%s on %s before the event: %+v", k, col.where, got)
			}
		}
	}
	col.event(w, t, w.a)
	for _, k := range credKinds {
		if why, skip := col.skip[k]; skip {
			t.Logf("%s: not a cell (%s)", k, why)
			continue
		}
		want, bound := col.want[k], time.Duration(0)
		if replicas {
			bound = 3 * time.Second // --deny-list-refresh and the client cache, with room
		}
		if got := w.settle(t, on, k, col.where, want, bound); got != want {
			t.Errorf("%s after %q: %+v, want %+v", k, col.name, got, want)
		}
	}
}

// matrixWorld is one of every credential kind on a fresh server: tenant
// acme (PAT mode) with user ada, tenant fed (identity-provider mode) with
// user ida, and tenant beta that nobody covers.
type matrixWorld struct {
	a       *apptest.Server
	idp     *idptest.IdP
	ada     *store.User
	ida     *store.User
	clients map[credKind]*admin.Client // the client behind each row that has one
	intro   map[string]*admin.Client   // per tenant: a client that only introspects
	tokens  map[credKind]string        // the access token of each row
	refresh map[credKind]string        // the current refresh token of rows that have one
	keys    map[credKind]string        // API key ids
	patID   string
}

const matrixNS = "https://fed.example"

func newMatrixWorld(t *testing.T, db string) *matrixWorld {
	t.Helper()
	w := &matrixWorld{idp: idptest.New(t), clients: map[credKind]*admin.Client{}, intro: map[string]*admin.Client{},
		tokens: map[credKind]string{}, refresh: map[credKind]string{}, keys: map[credKind]string{}}
	up := newUpstream(t)
	w.a = apptest.Start(t, db, func(c *config.Config) {
		c.Routes, c.EgressAllowPrivate = submissionsRoutes(t, up.URL), true
	})
	s := w.a
	both := &[]string{"submissions:read", "submissions:write"}
	// A refresh is allowed whenever the matrix asks (API-key sessions
	// otherwise wait for their access token to expire).
	skew := int64(24 * 3600)
	for _, name := range []string{"acme", "beta", "fed"} {
		w.intro[name] = setup(t, s, name, admin.ClientInput{Name: ptr("introspector"), Scopes: &[]string{"x"}})
		if _, err := s.Admin.UpdateTenant(ctx, name, admin.TenantInput{Settings: &admin.TenantSettingsInput{RefreshSkew: &skew}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Admin.UpdateTenant(ctx, "fed", admin.TenantInput{Settings: &admin.TenantSettingsInput{UserAuthMode: ptr("oauth"),
		IdP: &admin.IdPSettingsInput{Issuer: &w.idp.URL, Audiences: &[]string{"https://api.fed.example"}, ClaimNamespace: ptr(matrixNS)}}}); err != nil {
		t.Fatal(err)
	}
	w.ada = matrixUser(t, s, "acme", "ada@acme.example")
	w.ida = matrixUser(t, s, "fed", "ida@fed.example")

	// Machine clients, JWT and opaque.
	w.clients[kClientJWT] = setup(t, s, "acme", admin.ClientInput{Name: ptr("m2m jwt"), Scopes: both})
	w.clients[kClientOpaque] = setup(t, s, "acme", admin.ClientInput{Name: ptr("m2m opaque"), Scopes: both, TokenFormat: ptr("opaque")})
	for _, k := range []credKind{kClientJWT, kClientOpaque} {
		w.tokens[k] = token(t, s, w.clients[k], url.Values{"scope": {"submissions:read"}})
	}
	// Two integrations ada authorizes in one browser session.
	b := browser(t)
	for i, k := range []credKind{kCodeJWT, kCodeOpaque} {
		c := setup(t, s, "acme", admin.ClientInput{Name: ptr(string(k)), Grants: &[]string{"authorization_code"},
			RedirectURIs: &[]string{appCallback}, Scopes: &[]string{"openid", "submissions:read", "submissions:write"},
			TokenFormat: ptr([]string{"jwt", "opaque"}[i])})
		w.clients[k] = c
		f := &flow{s: s, client: c, user: w.ada, conf: &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret,
			RedirectURL: appCallback, Scopes: []string{"openid", "submissions:read"},
			Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/oauth2/authorize", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}}
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(t, b, f.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), i == 0)
		tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[k], w.refresh[k] = tok.AccessToken, tok.RefreshToken
	}
	// API keys bound to ada and to a client, each logged in once.
	w.clients[kKeyClient] = setup(t, s, "acme", admin.ClientInput{Name: ptr("key client"), Scopes: both})
	for k, in := range map[credKind]admin.APIKeyInput{kKeyUser: {Name: "ada's key", UserID: w.ada.ID},
		kKeyClient: {Name: "client key", ClientID: w.clients[kKeyClient].ClientID}} {
		key, err := s.Admin.CreateAPIKey(ctx, "acme", in)
		if err != nil {
			t.Fatal(err)
		}
		sess := login(t, s, key.Key)
		w.keys[k], w.tokens[k], w.refresh[k] = key.ID, sess.access, sess.refresh
	}
	p := mintPAT(t, s, w.ada, "30d")
	w.patID, w.tokens[kPAT] = p.PAT.ID, p.Token
	now := time.Now()
	w.tokens[kIdP] = w.idp.Sign(map[string]any{"iss": w.idp.URL, "sub": "idp|ida", "aud": "https://api.fed.example",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), matrixNS + "/email": "ida@fed.example"})
	return w
}

// matrixUser is a program_member (submissions:read) with API access.
func matrixUser(t *testing.T, s *apptest.Server, tenant, email string) *store.User {
	t.Helper()
	ten, err := s.Admin.GetTenant(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Users.Create(ctx, ten.ID, &users.Patch{Email: ptr(email), Name: ptr(email), Password: ptr(userPassword),
		Roles: &[]string{"program_member"}, APIEnabled: ptr(true)}, store.Event{Action: "user.create"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// home is the tenant a row's credential belongs to.
func home(k credKind) string {
	if k == kIdP {
		return "fed"
	}
	return "acme"
}

// observe asks s about row k on tenant where ("" for the row's home): the
// gateway (a read), introspection by where's introspector, and a refresh.
func (w *matrixWorld) observe(t *testing.T, s *apptest.Server, k credKind, where string) cell {
	t.Helper()
	c := w.look(t, s, k, where)
	c.refresh = w.tryRefresh(t, s, k)
	return c
}

// look is observe without the refresh, which may end a family and so
// cannot be repeated while waiting for another replica.
func (w *matrixWorld) look(t *testing.T, s *apptest.Server, k credKind, where string) cell {
	t.Helper()
	if where == "" {
		where = home(k)
	}
	var c cell
	c.gateway = call(t, s, "GET", "/api/"+where+"/submissions", w.tokens[k], nil).Status
	r := introspect(t, s, w.intro[where], w.tokens[k])
	switch {
	case r.JSON["active"] != true:
		c.intro = inactive
	case slices.Contains(strings.Fields(fmt.Sprint(r.JSON["scope"])), "submissions:read"):
		c.intro = withRead
	default:
		c.intro = noRead
	}
	return c
}

// tryRefresh refreshes row k's session, keeping the new refresh token; the
// access token the row is judged by stays the first one.
func (w *matrixWorld) tryRefresh(t *testing.T, s *apptest.Server, k credKind) int {
	t.Helper()
	rt := w.refresh[k]
	if rt == "" {
		return none
	}
	var r response
	if k == kKeyUser || k == kKeyClient {
		r = post(t, s, "/auth/refresh", map[string]string{"refresh_token": rt})
	} else {
		c := w.clients[k]
		r = postForm(t, s, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, c.ClientID, c.ClientSecret)
	}
	if r.Status != 200 {
		return refused
	}
	w.refresh[k] = r.JSON["refresh_token"].(string)
	return 200
}

// settle looks at row k until the gateway and introspection answer as
// want says or bound passes (0: once), then refreshes once.
func (w *matrixWorld) settle(t *testing.T, s *apptest.Server, k credKind, where string, want cell, bound time.Duration) cell {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		got := w.look(t, s, k, where)
		if want.gateway == 429 && got.gateway == 200 {
			// The budget may have had room for one more call: the next
			// must be refused.
			got = w.look(t, s, k, where)
		}
		if (got.gateway == want.gateway && got.intro == want.intro) || !time.Now().Before(deadline) {
			got.refresh = w.tryRefresh(t, s, k)
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The events, each through the admin API or the public endpoints of
// replica a, as an operator, a client or a user would.

func (w *matrixWorld) revokeCredentials(t *testing.T, a *apptest.Server) {
	for _, k := range []credKind{kClientJWT, kClientOpaque, kCodeJWT, kCodeOpaque} {
		c := w.clients[k]
		if r := postForm(t, a, "/oauth2/revoke", url.Values{"token": {w.tokens[k]}}, c.ClientID, c.ClientSecret); r.Status != 200 {
			t.Fatalf("revoke %s: %d %s", k, r.Status, r.Body)
		}
	}
	for _, k := range []credKind{kKeyUser, kKeyClient} {
		if err := a.Admin.RevokeAPIKey(ctx, "acme", w.keys[k]); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Admin.RevokeUserToken(ctx, "acme", w.ada.ID, w.patID); err != nil {
		t.Fatal(err)
	}
}

func (w *matrixWorld) revokeFamilies(t *testing.T, a *apptest.Server) {
	for _, k := range []credKind{kCodeJWT, kCodeOpaque} {
		c := w.clients[k]
		if r := postForm(t, a, "/oauth2/revoke", url.Values{"token": {w.refresh[k]}}, c.ClientID, c.ClientSecret); r.Status != 200 {
			t.Fatalf("revoke %s's refresh token: %d %s", k, r.Status, r.Body)
		}
	}
	for _, k := range []credKind{kKeyUser, kKeyClient} {
		if r := post(t, a, "/auth/logout", map[string]string{"refresh_token": w.refresh[k]}); r.Status != 204 {
			t.Fatalf("log %s out: %d %s", k, r.Status, r.Body)
		}
	}
}

func (w *matrixWorld) deleteUsers(t *testing.T, a *apptest.Server) {
	for _, u := range []*store.User{w.ada, w.ida} {
		if err := a.Admin.DeleteUser(ctx, tenantOf(u, w), u.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *matrixWorld) removeRoles(t *testing.T, a *apptest.Server) {
	for _, u := range []*store.User{w.ada, w.ida} {
		if _, err := a.Admin.UpdateUser(ctx, tenantOf(u, w), u.ID, admin.UserInput{Roles: &[]string{"group_member"}}); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *matrixWorld) removeAPIAccess(t *testing.T, a *apptest.Server) {
	for _, u := range []*store.User{w.ada, w.ida} {
		if _, err := a.Admin.UpdateUser(ctx, tenantOf(u, w), u.ID, admin.UserInput{APIEnabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *matrixWorld) removeClientScope(t *testing.T, a *apptest.Server) {
	for _, k := range []credKind{kClientJWT, kClientOpaque, kCodeJWT, kCodeOpaque, kKeyClient} {
		c := w.clients[k]
		scopes := slices.DeleteFunc(slices.Clone(c.Scopes), func(s string) bool { return s == "submissions:read" })
		if _, err := a.Admin.UpdateClient(ctx, "acme", c.ClientID, admin.ClientInput{Scopes: &scopes}); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *matrixWorld) deleteClients(t *testing.T, a *apptest.Server) {
	for _, k := range []credKind{kClientJWT, kClientOpaque, kCodeJWT, kCodeOpaque, kKeyClient} {
		if err := a.Admin.DeleteClient(ctx, "acme", w.clients[k].ClientID); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *matrixWorld) grantBeta(t *testing.T, a *apptest.Server) {
	for _, k := range []credKind{kClientJWT, kClientOpaque, kCodeJWT, kCodeOpaque, kKeyClient} {
		if _, err := a.Admin.GrantTenant(ctx, "acme", w.clients[k].ClientID, "beta"); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *matrixWorld) tightenBudgets(t *testing.T, a *apptest.Server) {
	one := &admin.RateLimitsInput{Read: &admin.Quota{Count: 1, Per: 3600}}
	for _, name := range []string{"acme", "fed"} {
		if _, err := a.Admin.UpdateTenant(ctx, name, admin.TenantInput{Settings: &admin.TenantSettingsInput{RateLimits: one}}); err != nil {
			t.Fatal(err)
		}
	}
}

func tenantOf(u *store.User, w *matrixWorld) string {
	if u.ID == w.ida.ID {
		return "fed"
	}
	return "acme"
}
