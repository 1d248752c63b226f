package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var _ store.PATs = (*DB)(nil)

const patCols = `id, tenant_id, user_id, name, digest, prefix, created_at, expires_at, revoked_at, last_used_at, last_used_ip, scopes`

func scanPAT(row interface{ Scan(...any) error }) (*store.PAT, error) {
	var p store.PAT
	var created, expires, revoked, used int64
	var scopes string
	if err := row.Scan(&p.ID, &p.TenantID, &p.UserID, &p.Name, &p.Digest, &p.Prefix, &created, &expires, &revoked,
		&used, &p.LastUsedIP, &scopes); err != nil {
		return nil, err
	}
	p.CreatedAt, p.ExpiresAt, p.RevokedAt, p.LastUsedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked), fromMicros(used)
	if scopes != "" { // '' is a token with all of its user's scopes
		p.Scopes = []string{}
		if err := fromJSON(scopes, &p.Scopes); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

func (s *DB) queryPATs(ctx context.Context, query string, args ...any) ([]store.PAT, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.PAT
	for rows.Next() {
		p, err := scanPAT(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// CreatePAT implements store.PATs. The user's row lock (FOR UPDATE; SQLite's
// BEGIN IMMEDIATE serializes every write) makes count-then-insert atomic.
func (s *DB) CreatePAT(ctx context.Context, p *store.PAT, max int, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = $1 AND tenant_id = $2`+s.d.ForUpdate,
			p.UserID, p.TenantID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return &store.NotFoundError{Kind: "user", ID: p.UserID}
		}
		if err != nil {
			return err
		}
		var live int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pats WHERE user_id = $1 AND revoked_at = 0
			AND (expires_at = 0 OR expires_at > $2)`, p.UserID, micros(p.CreatedAt)).Scan(&live); err != nil {
			return err
		}
		if live >= max {
			return &store.PATLimitError{Limit: max}
		}
		scopes := ""
		if p.Scopes != nil {
			scopes = toJSON(p.Scopes)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pats (`+patCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			p.ID, p.TenantID, p.UserID, p.Name, p.Digest, p.Prefix, micros(p.CreatedAt), micros(p.ExpiresAt),
			micros(p.RevokedAt), micros(p.LastUsedAt), p.LastUsedIP, scopes); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetPATByDigest implements store.PATs.
func (s *DB) GetPATByDigest(ctx context.Context, digest string) (*store.PAT, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	p, err := scanPAT(s.db.QueryRowContext(ctx, `SELECT `+patCols+` FROM pats WHERE digest = $1`, digest))
	return p, s.wrap(err)
}

// ListPATs implements store.PATs.
func (s *DB) ListPATs(ctx context.Context, tenantID, userID string, includeRevoked bool) ([]store.PAT, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	q := `SELECT ` + patCols + ` FROM pats WHERE tenant_id = $1 AND user_id = $2`
	if !includeRevoked {
		q += ` AND revoked_at = 0`
	}
	return s.queryPATs(ctx, q+` ORDER BY created_at DESC, id`, tenantID, userID)
}

// RevokePAT implements store.PATs.
func (s *DB) RevokePAT(ctx context.Context, tenantID, userID, id string, at time.Time, ev store.Event) (*store.PAT, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *store.PAT
	err := s.tx(ctx, func(tx *sql.Tx) error {
		p, err := scanPAT(tx.QueryRowContext(ctx, `SELECT `+patCols+` FROM pats WHERE id = $1 AND tenant_id = $2`+s.d.ForUpdate,
			id, tenantID))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && userID != "" && p.UserID != userID) {
			return &store.NotFoundError{Kind: "token", ID: id}
		}
		if err != nil {
			return err
		}
		out = p
		if !p.RevokedAt.IsZero() {
			return nil // irreversible, and already done
		}
		if _, err := tx.ExecContext(ctx, `UPDATE pats SET revoked_at = $2 WHERE id = $1`, id, micros(at)); err != nil {
			return err
		}
		p.RevokedAt = at
		return insertEvent(ctx, tx, ev)
	})
	return out, err
}

// ListExpiringPATs implements store.PATs.
func (s *DB) ListExpiringPATs(ctx context.Context, tenantID string, from, before time.Time) ([]store.PAT, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.queryPATs(ctx, `SELECT `+patCols+` FROM pats WHERE tenant_id = $1 AND revoked_at = 0
		AND expires_at >= $2 AND expires_at < $3 AND expires_at <> 0 ORDER BY expires_at, id`, tenantID, micros(from), micros(before))
}

// AddPATUsage implements store.PATs.
func (s *DB) AddPATUsage(ctx context.Context, usage []store.PATUsage) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// Rows in one order on every replica: two replicas flushing at once
	// would otherwise lock them in opposite orders and deadlock.
	usage = slices.SortedFunc(slices.Values(usage), func(a, b store.PATUsage) int { return strings.Compare(a.ID, b.ID) })
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, u := range usage {
			if _, err := tx.ExecContext(ctx, `UPDATE pats SET last_used_at = $2, last_used_ip = $3
				WHERE id = $1 AND last_used_at < $2`, u.ID, micros(u.At), u.IP); err != nil {
				return err
			}
		}
		return nil
	})
}
