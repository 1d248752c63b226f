package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// apiKeyPrefixLen is how much of a key listings show: gate_ak_ and four
// more characters.
const apiKeyPrefixLen = len("gate_ak_") + 4

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
	ks, err := a.Store.ListAPIKeys(r.Context(), t.ID)
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
	now := a.Now().UTC().Truncate(time.Microsecond)
	if err := a.checkAPIKeyInput(r, t, &in, now); err != nil {
		return err
	}
	raw := secret.New(secret.APIKey)
	k := &store.APIKey{ID: secret.NewID("ak"), TenantID: t.ID, UserID: in.UserID, ClientID: in.ClientID, Name: in.Name,
		Digest: secret.Hash(raw).String(), Prefix: raw[:apiKeyPrefixLen], CreatedAt: now}
	if in.ExpiresAt != nil {
		k.ExpiresAt = in.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	ev := a.event(r, t.ID, "api_key.create", k.ID)
	ev.Detail = map[string]any{"user": k.UserID, "client": k.ClientID}
	if err := a.Store.CreateAPIKey(r.Context(), k, ev); err != nil {
		return err
	}
	out := apiKeyJSON(k, t.Name, now)
	out.Key = raw
	w.Header().Set("Cache-Control", "no-store")
	protocol.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// checkAPIKeyInput: a name, exactly one of a user and a client of the
// tenant, and an expiry (if any) in the future.
func (a *API) checkAPIKeyInput(r *http.Request, t *store.Tenant, in *admin.APIKeyInput, now time.Time) error {
	switch {
	case in.Name == "" || len(in.Name) > 100 || !protocol.Printable(in.Name):
		return protocol.ErrInvalidRequest.WithDescription("name must be 1-100 printable characters")
	case (in.UserID == "") == (in.ClientID == ""):
		return protocol.ErrInvalidRequest.WithDescription("give exactly one of user_id and client_id")
	case in.ExpiresAt != nil && !in.ExpiresAt.After(now):
		return protocol.ErrInvalidRequest.WithDescription("expires_at must be in the future")
	}
	if in.UserID != "" {
		if _, err := a.Users.Get(r.Context(), t.ID, in.UserID); err != nil {
			return err
		}
		return nil
	}
	c, err := a.Store.GetClient(r.Context(), in.ClientID)
	if err == nil && c.TenantID != t.ID {
		err = &store.NotFoundError{Kind: "client", ID: in.ClientID}
	}
	return err
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
	if _, err := a.Store.RevokeAPIKey(r.Context(), t.ID, id, a.Now(), a.event(r, t.ID, "api_key.revoke", id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
