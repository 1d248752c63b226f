package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/consents"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

func consentJSON(g *consents.Grant) admin.ConsentGrant {
	return admin.ConsentGrant{ClientID: g.ClientID, ClientName: g.ClientName, Scopes: g.Scopes, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

func (a *API) listConsents(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	gs, err := a.Consents.List(r.Context(), t.ID, u.ID)
	if err != nil {
		return err
	}
	out := make([]admin.ConsentGrant, len(gs))
	for i := range gs {
		out[i] = consentJSON(&gs[i])
	}
	protocol.WriteJSON(w, http.StatusOK, admin.List[admin.ConsentGrant]{Items: out})
	return nil
}

// revokeConsent withdraws a user's consent for a client, ending the
// client's sessions for the user: the next authorization asks again.
func (a *API) revokeConsent(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "client")
	if err != nil {
		return err
	}
	if _, err := a.Consents.Revoke(r.Context(), t.ID, u.ID, id, a.event(r, t.ID, audit.OAuthConsentRevoke, id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
