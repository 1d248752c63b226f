package sessions

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// family is a live family at generation 3, rotated a second before t0,
// whose newest access token expires at t0+exp.
func family(exp time.Duration) *store.RefreshFamily {
	return &store.RefreshFamily{ID: "rf_1", Generation: 3, RotatedAt: t0.Add(-time.Second), ExpiresAt: t0.Add(time.Hour),
		Replay: []byte("sealed"), AccessTokens: []store.IssuedToken{{JTI: "old", ExpiresAt: t0.Add(exp)}}}
}

func TestDecide(t *testing.T) {
	code := Policy{Grace: 10 * time.Second}
	session := Policy{EarlyRefresh: true, Skew: 30 * time.Second}
	revoked := family(time.Minute)
	revoked.RevokedAt = t0.Add(-time.Minute)
	noReplay := family(time.Minute)
	noReplay.Replay = nil
	for _, c := range []struct {
		name      string
		f         *store.RefreshFamily
		presented int64
		now       time.Time
		p         Policy
		want      Outcome
		wait      time.Duration
	}{
		{"current token rotates", family(time.Minute), 3, t0, code, Rotate, 0},
		{"revoked family, current token", revoked, 3, t0, code, Revoked, 0},
		{"revoked family, old token (no second reuse event)", revoked, 1, t0, code, Revoked, 0},
		{"past the lifetime", family(time.Minute), 3, t0.Add(time.Hour), code, Ended, 0},
		{"lifetime beats reuse", family(time.Minute), 1, t0.Add(2 * time.Hour), code, Ended, 0},
		{"previous token within grace replays", family(time.Minute), 2, t0, code, Replay, 0},
		{"previous token after grace is reuse", family(time.Minute), 2, t0.Add(10 * time.Second), code, Reused, 0},
		{"previous token without a sealed response is reuse", noReplay, 2, t0, code, Reused, 0},
		{"previous token, grace off, is reuse", family(time.Minute), 2, t0, Policy{}, Reused, 0},
		{"older token is reuse", family(time.Minute), 1, t0, code, Reused, 0},
		{"a token from the future is reuse", family(time.Minute), 4, t0, code, Reused, 0},
		{"session: too early", family(time.Minute), 3, t0, session, TooEarly, 30 * time.Second},
		{"session: within the skew rotates", family(time.Minute), 3, t0.Add(31 * time.Second), session, Rotate, 0},
		{"session: after expiry rotates", family(time.Minute), 3, t0.Add(2 * time.Minute), session, Rotate, 0},
		{"session: reuse beats too early", family(time.Minute), 2, t0, session, Reused, 0},
		{"code flow refreshes early", family(time.Hour), 3, t0, code, Rotate, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.f, c.presented, c.now, c.p)
			if d.Outcome != c.want || d.Wait != c.wait {
				t.Errorf("Decide = %v (wait %v); want %v (wait %v)", d.Outcome, d.Wait, c.want, c.wait)
			}
		})
	}
}

func TestRotateAndEnd(t *testing.T) {
	f := family(-time.Second) // its one access token has expired
	Advance(f, t0, "new", t0.Add(time.Hour), []byte("r"))
	if f.Generation != 4 || !f.RotatedAt.Equal(t0) || string(f.Replay) != "r" {
		t.Fatalf("after Advance: %+v", f)
	}
	if len(f.AccessTokens) != 1 || f.AccessTokens[0].JTI != "new" {
		t.Fatalf("live tokens = %+v; want only the new one", f.AccessTokens)
	}
	if !CurrentExpiry(f).Equal(t0.Add(time.Hour)) {
		t.Fatalf("CurrentExpiry = %v", CurrentExpiry(f))
	}
	End(f, t0)
	if !f.RevokedAt.Equal(t0) || f.Replay != nil {
		t.Fatalf("after End: %+v", f)
	}
	if d := Decide(f, 4, t0, Policy{}); d.Outcome != Revoked {
		t.Fatalf("an ended family decides %v", d.Outcome)
	}
}

func TestIssued(t *testing.T) {
	list := []store.IssuedToken{{JTI: "a", ExpiresAt: t0.Add(-time.Second)}, {JTI: "b", ExpiresAt: t0.Add(time.Second)}}
	got := Issued(list, "c", t0.Add(time.Hour), t0)
	if len(got) != 2 || got[0].JTI != "b" || got[1].JTI != "c" {
		t.Fatalf("Issued = %+v", got)
	}
	if &got[0] == &list[1] {
		t.Fatal("Issued writes into the caller's list")
	}
	if got := Issued(nil, "", t0, t0); len(got) != 0 {
		t.Fatalf("a token without a jti was recorded: %+v", got)
	}
}

func TestNarrow(t *testing.T) {
	// What a user may grant: their roles' scopes and Gatehouse's own
	// (authn.Grantable).
	roles := []string{"submissions:read", "programs:read", "openid", "profile", "email", "gatehouse:tokens"}
	client := []string{"openid", "email", "submissions:read", "submissions:write", "programs:read"}
	for _, c := range []struct {
		name               string
		granted, requested string
		holder             [][]string
		want               string
		err                error
	}{
		{"everything still held", "openid submissions:read", "", [][]string{client, roles}, "openid submissions:read", nil},
		{"a role taken away narrows", "submissions:read submissions:write", "", [][]string{client, roles}, "submissions:read", nil},
		{"a client scope taken away narrows", "submissions:read programs:read", "", [][]string{{"programs:read"}, roles}, "programs:read", nil},
		{"an own scope the client dropped goes", "openid submissions:read", "", [][]string{{"submissions:read"}, roles}, "submissions:read", nil},
		{"asking narrower", "submissions:read programs:read", "programs:read", [][]string{client, roles}, "programs:read", nil},
		{"asking for only openid is not losing", "openid submissions:read", "openid", [][]string{client, roles}, "openid", nil},
		{"asking for what was never granted", "submissions:read", "submissions:write", [][]string{client, roles}, "", &ErrWider{}},
		{"asking for a re-granted scope the family never had", "programs:read", "submissions:read", nil, "", &ErrWider{}},
		{"every API scope lost ends the family", "openid submissions:write", "", [][]string{client, roles}, "", ErrScopeLost},
		{"lost even when asking only for openid", "openid submissions:write", "openid", [][]string{client, roles}, "", ErrScopeLost},
		{"a family of own scopes only is never lost", "openid email", "", [][]string{client, {"openid", "email"}}, "openid email", nil},
		{"nil holder restricts nothing", "a b", "", [][]string{nil}, "a b", nil},
		{"an empty holder holds nothing", "a b", "", [][]string{{}}, "", ErrScopeLost},
		{"repeats asked for once", "a b", "b b a", nil, "b a", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Narrow(c.granted, c.requested, c.holder...)
			var wider *ErrWider
			switch {
			case c.err == ErrScopeLost && !errors.Is(err, ErrScopeLost),
				c.err != nil && c.err != ErrScopeLost && !errors.As(err, &wider),
				c.err == nil && err != nil:
				t.Fatalf("Narrow error = %v; want %v", err, c.err)
			case got != c.want:
				t.Fatalf("Narrow = %q; want %q", got, c.want)
			}
		})
	}
}
