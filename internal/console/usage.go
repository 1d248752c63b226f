package console

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// The usage chart: one bar per hour for the last 24 hours, requests let
// through at the bottom and rate-limit refusals stacked on top, drawn by
// the server as SVG (no script, no chart library).
const (
	chartHours  = 24
	barWidth    = 22 // px, including the gap
	chartHeight = 64 // px, the tallest bar
)

// usageRow is one integration on the usage page.
type usageRow struct {
	ID, Name                   string
	LastUsed                   time.Time
	Issued, Requests, Rejected int64 // over the chart's hours
	Peak                       int64 // the busiest hour's requests and refusals
	Bars                       []usageBar
}

// usageBar is one hour of the chart, in SVG user units.
type usageBar struct {
	Hour                   time.Time
	Requests, Rejected     int64
	X, W                   int
	ReqY, ReqH, RejY, RejH int
}

// ChartWidth and ChartHeight size the SVG.
func (usageRow) ChartWidth() int  { return chartHours * barWidth }
func (usageRow) ChartHeight() int { return chartHeight }

// usagePage is Admin > Usage: per integration, requests and rate-limit
// refusals by the hour over the last 24 hours, and when it was last used.
func (h *Handler) usagePage(w http.ResponseWriter, r *http.Request, c *caller) error {
	list, err := h.Clients.ListClients(r.Context(), c.tenant.ID, store.Page{Limit: 500})
	if err != nil {
		return err
	}
	first := h.Now().UTC().Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
	hours, err := h.Clients.ClientUsageSince(r.Context(), c.tenant.ID, first)
	if err != nil {
		return err
	}
	v := c.view("Usage")
	v.Since = first
	v.Usage = usageRows(list, hours, first)
	h.render(w, r, http.StatusOK, "usage", v)
	return nil
}

// usageRows lays out each client's hourly counts from first on as bars
// scaled to its own busiest hour, the busiest client first.
func usageRows(list []store.Client, hours []store.ClientUsage, first time.Time) []usageRow {
	byClient := map[string][]store.ClientUsage{}
	for _, u := range hours {
		byClient[u.ClientID] = append(byClient[u.ClientID], u)
	}
	rows := make([]usageRow, 0, len(list))
	for _, cl := range list {
		row := usageRow{ID: cl.ID, Name: cl.Name, LastUsed: cl.LastUsedAt, Bars: make([]usageBar, chartHours)}
		for i := range row.Bars {
			row.Bars[i] = usageBar{Hour: first.Add(time.Duration(i) * time.Hour), X: i * barWidth, W: barWidth - 2}
		}
		for _, u := range byClient[cl.ID] {
			i := int(u.Hour.Sub(first) / time.Hour)
			if i < 0 || i >= chartHours {
				continue
			}
			b := &row.Bars[i]
			b.Requests, b.Rejected = u.Requests, u.Rejected
			row.Issued, row.Requests, row.Rejected = row.Issued+u.Issued, row.Requests+u.Requests, row.Rejected+u.Rejected
			row.Peak = max(row.Peak, u.Requests+u.Rejected)
		}
		for i := range row.Bars {
			b := &row.Bars[i]
			b.ReqH, b.RejH = stack(b.Requests, b.Rejected, row.Peak)
			b.ReqY = chartHeight - b.ReqH
			b.RejY = b.ReqY - b.RejH
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b usageRow) int { // the busiest first, then by name
		return cmp.Or(cmp.Compare(b.Requests+b.Rejected, a.Requests+a.Rejected), strings.Compare(a.Name, b.Name))
	})
	return rows
}

// stack is the heights of a bar's two parts: together as tall as their
// sum (the peak's bar fills the chart), each at least 1 if not zero.
func stack(requests, rejected, peak int64) (reqH, rejH int) {
	total, reqH := scale(requests+rejected, peak), scale(requests, peak)
	rejH = total - reqH
	if rejected > 0 && rejH == 0 {
		rejH = 1
		if reqH+rejH > chartHeight {
			reqH--
		}
	}
	return reqH, rejH
}

// scale is n's bar height when peak fills the chart; any count shows.
func scale(n, peak int64) int {
	if n <= 0 || peak <= 0 {
		return 0
	}
	return max(1, int(n*chartHeight/peak))
}
