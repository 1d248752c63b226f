package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var _ store.APIKeys = (*DB)(nil)

const apiKeyCols = `id, tenant_id, user_id, client_id, name, digest, prefix, created_at, expires_at, revoked_at, last_login_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*store.APIKey, error) {
	var k store.APIKey
	var created, expires, revoked, login int64
	if err := row.Scan(&k.ID, &k.TenantID, &k.UserID, &k.ClientID, &k.Name, &k.Digest, &k.Prefix, &created, &expires,
		&revoked, &login); err != nil {
		return nil, err
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt, k.LastLoginAt = fromMicros(created), fromMicros(expires), fromMicros(revoked), fromMicros(login)
	return &k, nil
}

// CreateAPIKey implements store.APIKeys.
func (s *DB) CreateAPIKey(ctx context.Context, k *store.APIKey, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			k.ID, k.TenantID, k.UserID, k.ClientID, k.Name, k.Digest, k.Prefix, micros(k.CreatedAt), micros(k.ExpiresAt),
			micros(k.RevokedAt), micros(k.LastLoginAt)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetAPIKey implements store.APIKeys.
func (s *DB) GetAPIKey(ctx context.Context, id string) (*store.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1`, id))
	return k, s.wrap(err)
}

// GetAPIKeyByDigest implements store.APIKeys.
func (s *DB) GetAPIKeyByDigest(ctx context.Context, digest string) (*store.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE digest = $1`, digest))
	return k, s.wrap(err)
}

// ListAPIKeys implements store.APIKeys.
func (s *DB) ListAPIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id`, tenantID)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	out := []store.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

// RevokeAPIKey implements store.APIKeys.
func (s *DB) RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time, ev store.Event) (*store.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *store.APIKey
	err := s.tx(ctx, func(tx *sql.Tx) error {
		k, err := scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1 AND tenant_id = $2`+s.d.ForUpdate,
			id, tenantID))
		if errors.Is(err, sql.ErrNoRows) {
			return &store.NotFoundError{Kind: "API key", ID: id}
		}
		if err != nil {
			return err
		}
		out = k
		if !k.RevokedAt.IsZero() {
			return nil // irreversible, and already done
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, id, micros(at)); err != nil {
			return err
		}
		k.RevokedAt = at
		if _, err := revokeFamilies(ctx, tx, s.d, store.FamilyFilter{APIKeyID: id}, at); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
	return out, err
}

// RecordAPIKeyLogin implements store.APIKeys.
func (s *DB) RecordAPIKeyLogin(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.wrap(affected(s.db.ExecContext(ctx, `UPDATE api_keys SET last_login_at = $2 WHERE id = $1`, id, micros(at))))
}

// CreateFamily implements store.APIKeys.
func (s *DB) CreateFamily(ctx context.Context, f *store.RefreshFamily, tokenDigest string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := insertFamily(ctx, tx, f); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (digest, family_id, generation) VALUES ($1, $2, $3)`,
			tokenDigest, f.ID, f.Generation); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}
