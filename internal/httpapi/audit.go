package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

func (a *API) tenantAudit(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	return a.audit(w, r, t.ID)
}

// serverAudit lists events that belong to no tenant (key rotations,
// failed authentication of unknown clients).
func (a *API) serverAudit(w http.ResponseWriter, r *http.Request) error { return a.audit(w, r, "") }

// audit serves GET .../audit?since=&until=&action=&cursor=&limit=, newest
// first; next is the cursor of the following page.
func (a *API) audit(w http.ResponseWriter, r *http.Request, tenantID string) error {
	q := r.URL.Query()
	eq := store.EventQuery{TenantID: tenantID, Action: q.Get("action"), Actor: q.Get("actor"), Outcome: q.Get("outcome"), Limit: 100}
	if len(eq.Action) > 128 || !protocol.Printable(eq.Action) {
		return protocol.ErrInvalidRequest.WithDescription("malformed action filter")
	}
	if len(eq.Actor) > 300 || !protocol.Printable(eq.Actor) {
		return protocol.ErrInvalidRequest.WithDescription("malformed actor filter")
	}
	if eq.Outcome != "" && eq.Outcome != "success" && eq.Outcome != "failure" {
		return protocol.ErrInvalidRequest.WithDescription(`outcome must be "success" or "failure"`)
	}
	for name, dst := range map[string]*time.Time{"since": &eq.Since, "until": &eq.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return protocol.ErrInvalidRequest.WithDescription(name + " must be an RFC 3339 time")
			}
			*dst = t
		}
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return protocol.ErrInvalidRequest.WithDescription("malformed cursor")
		}
		eq.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return protocol.ErrInvalidRequest.WithDescription("limit must be 1-1000")
		}
		eq.Limit = n
	}
	evs, err := a.Store.ListEvents(r.Context(), eq)
	if err != nil {
		return err
	}
	out := make([]admin.Event, len(evs))
	for i, e := range evs {
		out[i] = admin.Event{ID: e.ID, Time: e.Time, Actor: e.Actor, Action: string(e.Action), Target: e.Target, IP: e.IP,
			UserAgent: e.UserAgent, Outcome: e.Outcome, Detail: e.Detail}
	}
	protocol.WriteJSON(w, http.StatusOK, newList(out, eq.Limit, func(e admin.Event) string { return strconv.FormatInt(e.ID, 10) }))
	return nil
}
