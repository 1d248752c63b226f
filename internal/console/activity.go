package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Events reads the activity log.
type Events interface {
	ListEvents(ctx context.Context, q store.EventQuery) ([]store.Event, error)
}

// activityFilter is the activity page's filter, as typed.
type activityFilter struct {
	Since, Until, Actor, Action, Outcome string
}

// localTime is the datetime-local format (read as UTC).
const localTime = "2006-01-02T15:04"

// query reads the filter from the URL into a store query, or says what
// is wrong with it.
func activityQuery(r *http.Request, tenantID string) (activityFilter, store.EventQuery, error) {
	q := r.URL.Query()
	f := activityFilter{Since: q.Get("since"), Until: q.Get("until"), Actor: strings.TrimSpace(q.Get("actor")),
		Action: strings.TrimSpace(q.Get("action")), Outcome: q.Get("outcome")}
	eq := store.EventQuery{TenantID: tenantID, Actor: f.Actor, Action: f.Action, Outcome: f.Outcome, Limit: 50}
	bad := func(what string) error {
		return &protocol.Error{Code: "invalid_request", Status: http.StatusBadRequest, Description: "The filter's " + what + " is not valid."}
	}
	for _, t := range []struct {
		v   string
		out *time.Time
	}{{f.Since, &eq.Since}, {f.Until, &eq.Until}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(localTime, t.v)
		if err != nil {
			return f, eq, bad("time")
		}
		*t.out = v
	}
	switch {
	case len(f.Actor) > 300 || !protocol.Printable(f.Actor):
		return f, eq, bad("actor")
	case len(f.Action) > 128 || !protocol.Printable(f.Action):
		return f, eq, bad("action")
	case f.Outcome != "" && f.Outcome != "success" && f.Outcome != "failure":
		return f, eq, bad("outcome")
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n <= 0 {
			return f, eq, bad("page")
		}
		eq.Before = n
	}
	return f, eq, nil
}

func (f activityFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"since": f.Since, "until": f.Until, "actor": f.Actor, "action": f.Action, "outcome": f.Outcome} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// activityPage is Admin > Activity: the tenant's log, newest first, 50 a
// page, filtered by time, actor, action and outcome.
func (h *Handler) activityPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	f, eq, err := activityQuery(r, c.tenant.ID)
	if err != nil {
		return err
	}
	evs, err := h.Events.ListEvents(r.Context(), eq)
	if err != nil {
		return err
	}
	v := c.view("Activity log")
	v.Filter, v.Events = f, evs
	base := f.values()
	link := func(path string, q url.Values) template.URL { // built here: the query is encoded once
		return template.URL(c.path(path) + "?" + q.Encode())
	}
	for format, out := range map[string]*template.URL{"csv": &v.ExportCSV, "jsonl": &v.ExportJSONL} {
		q := f.values()
		q.Set("format", format)
		*out = link("activity/export", q)
	}
	if len(evs) == eq.Limit {
		base.Set("cursor", strconv.FormatInt(evs[len(evs)-1].ID, 10))
		v.Older = link("activity", base)
	}
	h.render(w, r, http.StatusOK, "activity", v)
	return nil
}

// maxExport bounds one export; narrow the filter for more.
const maxExport = 10_000

// exportActivity writes the filtered log as CSV or JSON lines, newest
// first, at most maxExport events.
func (h *Handler) exportActivity(w http.ResponseWriter, r *http.Request, c *caller) error {
	_, eq, err := activityQuery(r, c.tenant.ID)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "jsonl" {
		return &protocol.Error{Code: "invalid_request", Status: http.StatusBadRequest, Description: "The format is csv or jsonl."}
	}
	eq.Limit = 1000
	var all []store.Event
	for len(all) < maxExport {
		page, err := h.Events.ListEvents(r.Context(), eq)
		if err != nil {
			return err
		}
		all = append(all, page...)
		if len(page) < eq.Limit {
			break
		}
		eq.Before = page[len(page)-1].ID
	}
	all = all[:min(len(all), maxExport)]
	name := "activity-" + c.tenant.Name + "-" + h.Now().UTC().Format("20060102-150405")
	w.Header().Set("Cache-Control", "no-store")
	if format == "jsonl" {
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.jsonl"`)
		enc := json.NewEncoder(w)
		for _, e := range all {
			enc.Encode(exported(e))
		}
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "time", "actor", "action", "target", "outcome", "ip", "user_agent", "detail"})
	for _, e := range all {
		x := exported(e)
		detail, _ := json.Marshal(x.Detail)
		cw.Write([]string{strconv.FormatInt(x.ID, 10), x.Time.Format(time.RFC3339Nano), csvSafe(x.Actor), csvSafe(x.Action),
			csvSafe(x.Target), x.Outcome, x.IP, csvSafe(x.UserAgent), csvSafe(string(detail))})
	}
	cw.Flush()
	return cw.Error()
}

// exportedEvent is an event as exports write it (the admin API's shape).
type exportedEvent struct {
	ID        int64          `json:"id"`
	Time      time.Time      `json:"time"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	IP        string         `json:"ip"`
	UserAgent string         `json:"user_agent"`
	Outcome   string         `json:"outcome"`
	Detail    map[string]any `json:"detail"`
}

func exported(e store.Event) exportedEvent {
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	return exportedEvent{ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, Action: string(e.Action), Target: e.Target, IP: e.IP,
		UserAgent: e.UserAgent, Outcome: e.Outcome, Detail: e.Detail}
}

// csvSafe defuses spreadsheet formulas: a cell a user could have typed
// (a user agent, a name) that starts with = + - @ is prefixed with '.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
