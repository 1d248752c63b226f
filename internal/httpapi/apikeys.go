package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikeys"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// apiKeyJSON renders an API key as of now (never its digest).
func apiKeyJSON(k *store.APIKey, tenant string, now time.Time) admin.APIKey {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return admin.APIKey{ID: k.ID, Tenant: tenant, UserID: k.UserID, ClientID: k.ClientID, Name: k.Name, Prefix: k.Prefix,
		Status: k.Status(now), CreatedAt: k.CreatedAt, ExpiresAt: opt(k.ExpiresAt), RevokedAt: opt(k.RevokedAt),
		LastLoginAt: opt(k.LastLoginAt)}
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	ks, err := a.APIKeys.List(r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := make([]admin.APIKey, len(ks))
	now := a.Now()
	for i := range ks {
		out[i] = apiKeyJSON(&ks[i], t.Name, now)
	}
	protocol.WriteJSON(w, http.StatusOK, admin.List[admin.APIKey]{Items: out})
	return nil
}

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	var in admin.APIKeyInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	want := apikeys.Input{Name: in.Name, UserID: in.UserID, ClientID: in.ClientID}
	if in.ExpiresAt != nil {
		want.ExpiresAt = *in.ExpiresAt
	}
	k, raw, err := a.APIKeys.Create(r.Context(), t, want, a.event(r, t.ID, "", ""))
	if err != nil {
		return err
	}
	out := apiKeyJSON(k, t.Name, a.Now())
	out.Key = raw
	w.Header().Set("Cache-Control", "no-store")
	protocol.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "key")
	if err != nil {
		return err
	}
	if _, err := a.APIKeys.Revoke(r.Context(), t.ID, id, a.event(r, t.ID, "", "")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
