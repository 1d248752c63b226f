package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// CreateOpaqueToken implements store.Tokens.
func (s *DB) CreateOpaqueToken(ctx context.Context, t *store.OpaqueToken) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, `INSERT INTO opaque_tokens
		(digest, client_id, tenant_id, subject, scope, audience, orgs, auth, issued_at, expires_at, revoked)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		t.Digest, t.ClientID, t.TenantID, t.Subject, t.Scope, toJSON(nonNil(t.Audience)), toJSON(nonNil(t.Orgs)), t.Auth,
		micros(t.IssuedAt), micros(t.ExpiresAt), t.Revoked)
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
		issued_at, expires_at, revoked FROM opaque_tokens WHERE digest = $1`, digest).
		Scan(&t.Digest, &t.ClientID, &t.TenantID, &t.Subject, &t.Scope, &aud, &orgs, &t.Auth, &issued, &expires, &t.Revoked)
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
		if err := affected(tx.ExecContext(ctx, `UPDATE opaque_tokens SET revoked = $2 WHERE digest = $1`, digest, true)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// DenyJTI implements store.Tokens.
func (s *DB) DenyJTI(ctx context.Context, jti string, expiresAt time.Time, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		at := ev.Time
		if at.IsZero() {
			at = time.Now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jti_denylist (jti, expires_at, denied_at) VALUES ($1, $2, $3)
			ON CONFLICT (jti) DO NOTHING`, jti, micros(expiresAt), micros(at)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// IsJTIDenied implements store.Tokens.
func (s *DB) IsJTIDenied(ctx context.Context, jti string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM jti_denylist WHERE jti = $1`, jti).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, s.wrap(err)
}

// DeniedJTIs implements store.Tokens.
func (s *DB) DeniedJTIs(ctx context.Context, now, since time.Time) (map[string]time.Time, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT jti, expires_at FROM jti_denylist WHERE expires_at > $1 AND denied_at >= $2`,
		micros(now), micros(since))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var jti string
		var exp int64
		if err := rows.Scan(&jti, &exp); err != nil {
			return nil, err
		}
		out[jti] = fromMicros(exp)
	}
	return out, rows.Err()
}

// PurgeExpiredTokens implements store.Tokens.
func (s *DB) PurgeExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	total := 0
	for _, q := range []string{
		`DELETE FROM jti_denylist WHERE jti IN (SELECT jti FROM jti_denylist WHERE expires_at < $1 LIMIT $2)`,
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
