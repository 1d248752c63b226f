package httpapi

import (
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// patJSON renders a personal access token as of now (never its digest).
func patJSON(p *store.PAT, tenant string, now time.Time) admin.PersonalToken {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return admin.PersonalToken{ID: p.ID, Tenant: tenant, UserID: p.UserID, Name: p.Name, Prefix: p.Prefix,
		Status: p.Status(now), CreatedAt: p.CreatedAt, ExpiresAt: opt(p.ExpiresAt), RevokedAt: opt(p.RevokedAt),
		LastUsedAt: opt(p.LastUsedAt), LastUsedIP: p.LastUsedIP, Scopes: p.Scopes}
}

func (a *API) writePATs(w http.ResponseWriter, ps []store.PAT, tenant string) {
	out := make([]admin.PersonalToken, len(ps))
	now := a.Now()
	for i := range ps {
		out[i] = patJSON(&ps[i], tenant, now)
	}
	protocol.WriteJSON(w, http.StatusOK, admin.List[admin.PersonalToken]{Items: out})
}

func (a *API) listUserTokens(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	all := r.URL.Query().Get("include_revoked") == "true"
	ps, err := a.PATs.List(r.Context(), t.ID, u.ID, all)
	if err != nil {
		return err
	}
	a.writePATs(w, ps, t.Name)
	return nil
}

func (a *API) revokeUserToken(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "token")
	if err != nil {
		return err
	}
	if _, err := a.PATs.Revoke(r.Context(), t.ID, u.ID, id, a.event(r, t.ID, audit.PATRevoke, id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxExpiringDays bounds ?days= of the expiring-tokens listing.
const maxExpiringDays = 366

func (a *API) expiringTokens(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	days := 7
	if v := r.URL.Query().Get("days"); v != "" {
		if days, err = strconv.Atoi(v); err != nil || days < 1 || days > maxExpiringDays {
			return protocol.ErrInvalidRequest.WithDescription("days must be 1-366")
		}
	}
	ps, err := a.PATs.Expiring(r.Context(), t.ID, time.Duration(days)*24*time.Hour)
	if err != nil {
		return err
	}
	a.writePATs(w, ps, t.Name)
	return nil
}
