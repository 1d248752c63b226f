package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/webhook"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// getWebhook shows the tenant's webhook URL and the secret its deliveries
// are signed with (derived from the master key: the same on every
// replica, and never stored).
func (a *API) getWebhook(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	protocol.WriteJSON(w, http.StatusOK, admin.Webhook{URL: t.Settings.WebhookURL,
		SigningSecret: webhook.SigningSecret(a.Webhooks.Secret(t.ID))})
	return nil
}

// pingWebhook sends a ping to the tenant's webhook and waits a little for
// the outcome, so that an admin can check the receiver at once.
func (a *API) pingWebhook(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	id, err := a.Webhooks.Ping(r.Context(), t.ID)
	if err != nil {
		return err
	}
	ev, err := a.awaitDelivery(r, t.ID, id)
	if err != nil {
		return err
	}
	out := admin.WebhookDelivery{ID: ev.ID, Type: ev.Type, Status: ev.Status(), Attempts: ev.Attempts, LastError: ev.LastError}
	if !ev.DeliveredAt.IsZero() {
		out.DeliveredAt = &ev.DeliveredAt
	}
	protocol.WriteJSON(w, http.StatusOK, out)
	return nil
}

// awaitDelivery polls the event until its first attempt has ended or
// pingWait has passed.
func (a *API) awaitDelivery(r *http.Request, tenantID, id string) (*store.WebhookEvent, error) {
	deadline := time.Now().Add(pingWait)
	for {
		ev, err := a.Webhooks.Status(r.Context(), tenantID, id)
		if err != nil || ev.Status() != store.WebhookPending || ev.LastError != "" || time.Now().After(deadline) {
			return ev, err
		}
		select {
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pingWait bounds how long a ping request waits for the delivery.
const pingWait = 12 * time.Second
