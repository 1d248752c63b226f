package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// CreateKey implements store.Keys.
func (s *DB) CreateKey(ctx context.Context, k *store.SigningKey, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

func insertKey(ctx context.Context, tx *sql.Tx, k *store.SigningKey) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (id, alg, sealed, public, created_at, activates_at, retired_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.ID, k.Alg, k.Sealed, string(k.Public), micros(k.CreatedAt), micros(activation(k)), optMicros(k.RetiredAt))
	return err
}

// ListKeys implements store.Keys, oldest first.
func (s *DB) ListKeys(ctx context.Context) ([]store.SigningKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT id, alg, sealed, public, created_at, activates_at, retired_at
		FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var pub string
		var created, activates int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Alg, &k.Sealed, &pub, &created, &activates, &retired); err != nil {
			return nil, err
		}
		k.Public, k.CreatedAt, k.ActivatesAt, k.RetiredAt = []byte(pub), fromMicros(created), fromMicros(activates), fromOptMicros(retired)
		k.ActivatesAt = activation(&k)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RotateKey implements store.Keys.
func (s *DB) RotateKey(ctx context.Context, k *store.SigningKey, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = $1
			WHERE retired_at IS NULL AND (created_at < $2 OR (created_at = $2 AND id < $3))`,
			micros(activation(k)), micros(k.CreatedAt), k.ID); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// activation is when k starts signing: its ActivatesAt, or its creation.
func activation(k *store.SigningKey) time.Time {
	if k.ActivatesAt.IsZero() || k.ActivatesAt.Before(k.CreatedAt) {
		return k.CreatedAt
	}
	return k.ActivatesAt
}

// DeleteKeysRetiredBefore implements store.Keys.
func (s *DB) DeleteKeysRetiredBefore(ctx context.Context, t time.Time) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1`, micros(t))
	if err != nil {
		return 0, s.wrap(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
