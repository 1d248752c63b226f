package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
)

func insertEvent(ctx context.Context, q querier, ev store.Event) error {
	if ev.Action == "" {
		return nil // a mutation without an event (internal housekeeping)
	}
	detail := []byte("{}")
	if ev.Detail != nil {
		var err error
		if detail, err = json.Marshal(ev.Detail); err != nil {
			return fmt.Errorf("sqlstore: audit detail: %w", err)
		}
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit_events
		(time, tenant_id, actor, action, target, ip, user_agent, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		micros(ev.Time), ev.TenantID, ev.Actor, ev.Action, ev.Target, ev.IP, ev.UserAgent, ev.Outcome, string(detail))
	return err
}

// AppendEvents implements store.Audit.
func (s *DB) AppendEvents(ctx context.Context, evs []store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, ev := range evs {
			if err := insertEvent(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListEvents implements store.Audit.
func (s *DB) ListEvents(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	add("tenant_id = ?", q.TenantID)
	if !q.Since.IsZero() {
		add("time >= ?", micros(q.Since))
	}
	if !q.Until.IsZero() {
		add("time < ?", micros(q.Until))
	}
	if q.Before > 0 {
		add("id < ?", q.Before)
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Outcome != "" {
		add("outcome = ?", q.Outcome)
	}
	switch {
	case strings.HasSuffix(q.Action, "."):
		add("substr(action, 1, "+strconv.Itoa(len(q.Action))+") = ?", q.Action)
	case q.Action != "":
		add("action = ?", q.Action)
	}
	query := `SELECT id, time, tenant_id, actor, action, target, ip, user_agent, outcome, detail
		FROM audit_events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit(q.Limit))
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var ev store.Event
		var t int64
		var detail string
		if err := rows.Scan(&ev.ID, &t, &ev.TenantID, &ev.Actor, &ev.Action, &ev.Target, &ev.IP, &ev.UserAgent, &ev.Outcome, &detail); err != nil {
			return nil, err
		}
		ev.Time = fromMicros(t)
		if err := fromJSON(detail, &ev.Detail); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
