package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var _ store.ConsentGrants = (*DB)(nil)

const consentCols = `tenant_id, user_id, client_id, scopes, created_at, updated_at`

func scanConsent(row interface{ Scan(...any) error }) (*store.ConsentGrant, error) {
	var g store.ConsentGrant
	var scopes string
	var created, updated int64
	if err := row.Scan(&g.TenantID, &g.UserID, &g.ClientID, &scopes, &created, &updated); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &g, fromJSON(scopes, &g.Scopes)
}

// scopeSet is the union of scope lists, sorted and without repeats (never
// nil, so that it is stored as []).
func scopeSet(lists ...[]string) []string {
	out := []string{}
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// GrantConsent implements store.ConsentGrants.
func (s *DB) GrantConsent(ctx context.Context, g *store.ConsentGrant, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *store.ConsentGrant
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The foreign keys say the user and the client exist; they must
		// also be the tenant's (neither ever changes tenant).
		for _, o := range []struct{ kind, table, id string }{{"user", "users", g.UserID}, {"client", "clients", g.ClientID}} {
			var tenant string
			err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM `+o.table+` WHERE id = $1`, o.id).Scan(&tenant)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && tenant != g.TenantID) {
				return &store.NotFoundError{Kind: o.kind, ID: o.id}
			}
			if err != nil {
				return err
			}
		}
		want := scopeSet(g.Scopes)
		// Of two first consents at once, one inserts; the other's insert
		// waits for it, does nothing, and widens the row below.
		res, err := tx.ExecContext(ctx, `INSERT INTO consent_grants (`+consentCols+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, user_id, client_id) DO NOTHING`,
			g.TenantID, g.UserID, g.ClientID, toJSON(want), micros(g.CreatedAt), micros(g.UpdatedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			out = &store.ConsentGrant{TenantID: g.TenantID, UserID: g.UserID, ClientID: g.ClientID, Scopes: want,
				CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
			return insertEvent(ctx, tx, ev)
		}
		// Holding the row: concurrent widenings each see the other's scopes.
		cur, err := scanConsent(tx.QueryRowContext(ctx, `SELECT `+consentCols+` FROM consent_grants
			WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`+s.d.ForUpdate, g.TenantID, g.UserID, g.ClientID))
		if err != nil {
			return err
		}
		cur.Scopes = scopeSet(cur.Scopes, want)
		if g.UpdatedAt.After(cur.UpdatedAt) { // replicas' clocks differ: the latest stays
			cur.UpdatedAt = g.UpdatedAt
		}
		if _, err := tx.ExecContext(ctx, `UPDATE consent_grants SET scopes = $4, updated_at = $5
			WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`,
			g.TenantID, g.UserID, g.ClientID, toJSON(cur.Scopes), micros(cur.UpdatedAt)); err != nil {
			return err
		}
		out = cur
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return err
	}
	*g = *out
	return nil
}

// GetConsent implements store.ConsentGrants.
func (s *DB) GetConsent(ctx context.Context, tenantID, userID, clientID string) (*store.ConsentGrant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	g, err := scanConsent(s.db.QueryRowContext(ctx, `SELECT `+consentCols+` FROM consent_grants
		WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`, tenantID, userID, clientID))
	return g, s.wrap(err)
}

// ListConsents implements store.ConsentGrants.
func (s *DB) ListConsents(ctx context.Context, tenantID, userID string) ([]store.ConsentGrant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT `+consentCols+` FROM consent_grants
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY updated_at DESC, client_id`, tenantID, userID)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.ConsentGrant
	for rows.Next() {
		g, err := scanConsent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *g)
	}
	return out, s.wrap(rows.Err())
}

// RevokeConsent implements store.ConsentGrants.
func (s *DB) RevokeConsent(ctx context.Context, tenantID, userID, clientID string, now time.Time, ev store.Event) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := affected(tx.ExecContext(ctx, `DELETE FROM consent_grants WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`,
			tenantID, userID, clientID))
		if errors.Is(err, store.ErrNotFound) {
			return &store.NotFoundError{Kind: "consent", ID: clientID}
		}
		if err != nil {
			return err
		}
		// Withdrawn consent ends what it authorized: the sessions (refresh
		// families) the user started with the client, and their tokens.
		if n, err = revokeFamilies(ctx, tx, s.d, store.FamilyFilter{TenantID: tenantID, UserID: userID, ClientID: clientID}, now); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
	return n, err
}
