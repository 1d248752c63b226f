package sqlstore

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/store"
)

// CreateOpaqueToken implements store.Tokens.
func (s *DB) CreateOpaqueToken(ctx context.Context, t *store.OpaqueToken) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, `INSERT INTO opaque_tokens
		(digest, client_id, tenant_id, subject, scope, audience, orgs, auth, issued_at, expires_at, revoked, jti, session_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		t.Digest, t.ClientID, t.TenantID, t.Subject, t.Scope, toJSON(nonNil(t.Audience)), toJSON(nonNil(t.Orgs)), t.Auth,
		micros(t.IssuedAt), micros(t.ExpiresAt), t.Revoked, t.JTI, t.SessionID)
	return s.wrap(err)
}

// GetOpaqueToken implements store.Tokens.
func (s *DB) GetOpaqueToken(ctx context.Context, digest string) (*store.OpaqueToken, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var t store.OpaqueToken
	var aud, orgs string
	var issued, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT digest, client_id, tenant_id, subject, scope, audience, orgs, auth,
		issued_at, expires_at, revoked, jti, session_id FROM opaque_tokens WHERE digest = $1`, digest).
		Scan(&t.Digest, &t.ClientID, &t.TenantID, &t.Subject, &t.Scope, &aud, &orgs, &t.Auth, &issued, &expires, &t.Revoked,
			&t.JTI, &t.SessionID)
	if err != nil {
		return nil, s.wrap(err)
	}
	t.IssuedAt, t.ExpiresAt = fromMicros(issued), fromMicros(expires)
	if err := fromJSON(aud, &t.Audience); err != nil {
		return nil, err
	}
	return &t, fromJSON(orgs, &t.Orgs)
}

// RevokeOpaqueToken implements store.Tokens.
func (s *DB) RevokeOpaqueToken(ctx context.Context, digest string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		var jti string
		var exp int64
		if err := tx.QueryRowContext(ctx, `SELECT jti, expires_at FROM opaque_tokens WHERE digest = $1`+s.d.ForUpdate, digest).
			Scan(&jti, &exp); err != nil {
			return err // ErrNoRows: not found
		}
		if _, err := tx.ExecContext(ctx, `UPDATE opaque_tokens SET revoked = $2 WHERE digest = $1`, digest, true); err != nil {
			return err
		}
		if jti != "" {
			if err := deny(ctx, tx, revocation.ID(revocation.Token, jti), fromMicros(exp), eventTime(ev)); err != nil {
				return err
			}
		}
		return insertEvent(ctx, tx, ev)
	})
}

// Deny implements store.Tokens.
func (s *DB) Deny(ctx context.Context, ids map[string]time.Time, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		at := eventTime(ev)
		// In id order, so that two transactions denying overlapping sets
		// take their row locks in the same order.
		for _, id := range slices.Sorted(maps.Keys(ids)) {
			if err := deny(ctx, tx, id, ids[id], at); err != nil {
				return err
			}
		}
		return insertEvent(ctx, tx, ev)
	})
}

// eventTime is when ev happened, which stamps the deny-list entries it
// writes (replicas load what was denied since their last look).
func eventTime(ev store.Event) time.Time {
	if ev.Time.IsZero() {
		return time.Now()
	}
	return ev.Time
}

// deny writes one deny-list entry; one already there stays as it is.
func deny(ctx context.Context, q querier, id string, until, at time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO revocations (id, expires_at, denied_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, id, micros(until), micros(at))
	return err
}

// IsDenied implements store.Tokens.
func (s *DB) IsDenied(ctx context.Context, ids ...string) (bool, error) {
	if len(ids) == 0 {
		return false, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	marks, args := make([]string, len(ids)), make([]any, len(ids))
	for i, id := range ids {
		marks[i], args[i] = "$"+strconv.Itoa(i+1), id
	}
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM revocations WHERE id IN (`+strings.Join(marks, ", ")+`) LIMIT 1`, args...).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, s.wrap(err)
}

// Denied implements store.Tokens.
func (s *DB) Denied(ctx context.Context, now, since time.Time) (map[string]time.Time, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT id, expires_at FROM revocations WHERE expires_at > $1 AND denied_at >= $2`,
		micros(now), micros(since))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var exp int64
		if err := rows.Scan(&id, &exp); err != nil {
			return nil, err
		}
		out[id] = fromMicros(exp)
	}
	return out, rows.Err()
}

// PurgeExpiredTokens implements store.Tokens.
func (s *DB) PurgeExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	total := 0
	for _, q := range []string{
		`DELETE FROM revocations WHERE id IN (SELECT id FROM revocations WHERE expires_at < $1 LIMIT $2)`,
		`DELETE FROM opaque_tokens WHERE digest IN (SELECT digest FROM opaque_tokens WHERE expires_at < $1 LIMIT $2)`,
	} {
		n, err := s.purge(ctx, q, now, limit)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// PurgeAuthCodes implements store.OAuth.
func (s *DB) PurgeAuthCodes(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.purge(ctx, `DELETE FROM auth_codes WHERE digest IN (SELECT digest FROM auth_codes WHERE expires_at < $1 LIMIT $2)`, before, limit)
}

// PurgeFamilies implements store.OAuth; refresh_tokens rows go by cascade.
func (s *DB) PurgeFamilies(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.purge(ctx, `DELETE FROM refresh_families WHERE id IN (SELECT id FROM refresh_families WHERE expires_at < $1 LIMIT $2)`, before, limit)
}

func (s *DB) purge(ctx context.Context, q string, before time.Time, limit int) (int, error) {
	res, err := s.db.ExecContext(ctx, q, micros(before), limit)
	if err != nil {
		return 0, s.wrap(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
