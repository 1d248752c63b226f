package console

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Each bar lands on its hour, stacks refusals on requests within the
// chart, scales to the integration's busiest hour, and shows any count
// (however small beside the peak); hours outside the window are ignored,
// and the busiest integration comes first.
func TestUsageRows(t *testing.T) {
	first := time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)
	list := []store.Client{{ID: "idle", Name: "Idle"}, {ID: "busy", Name: "Busy"}}
	hours := []store.ClientUsage{
		{ClientID: "busy", Hour: first.Add(-time.Hour), Requests: 99999}, // before the window
		{ClientID: "busy", Hour: first, Requests: 1},
		{ClientID: "busy", Hour: first.Add(23 * time.Hour), Requests: 700, Rejected: 300, Issued: 2},
		{ClientID: "busy", Hour: first.Add(24 * time.Hour), Requests: 5}, // after it
		{ClientID: "gone", Hour: first, Requests: 5},
	}
	rows := usageRows(list, hours, first)
	if len(rows) != 2 || rows[0].ID != "busy" || rows[1].Peak != 0 || rows[1].Requests != 0 || len(rows[1].Bars) != chartHours {
		t.Fatalf("rows %+v", rows)
	}
	busy := rows[0]
	if busy.Requests != 701 || busy.Rejected != 300 || busy.Issued != 2 || busy.Peak != 1000 {
		t.Fatalf("totals %d/%d/%d peak %d; want 701 requests, 300 refused, 2 issued, peak 1000", busy.Requests, busy.Rejected, busy.Issued, busy.Peak)
	}
	last := busy.Bars[chartHours-1]
	if last.ReqH+last.RejH != chartHeight || last.RejY != 0 || last.ReqY+last.ReqH != chartHeight || !last.Hour.Equal(first.Add(23*time.Hour)) {
		t.Fatalf("the peak bar %+v should fill the chart, refusals on top", last)
	}
	if b := busy.Bars[0]; b.ReqH != 1 || b.ReqY != chartHeight-1 {
		t.Fatalf("one request beside a peak of 1000 should still show: %+v", b)
	}
	for i, b := range busy.Bars {
		if b.X != i*barWidth || b.RejY < 0 || (i > 0 && i < chartHours-1 && b.ReqH+b.RejH != 0) {
			t.Fatalf("bar %d: %+v", i, b)
		}
	}
}
