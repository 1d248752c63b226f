package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse/gatehouse/internal/store"
)

// CreateAdminCredential implements store.Admins.
func (s *DB) CreateAdminCredential(ctx context.Context, c *store.AdminCredential, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO admin_credentials (id, name, digest, created_at) VALUES ($1, $2, $3, $4)`,
			c.ID, c.Name, c.Digest, micros(c.CreatedAt)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetAdminCredential implements store.Admins.
func (s *DB) GetAdminCredential(ctx context.Context, digest string) (*store.AdminCredential, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var c store.AdminCredential
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, name, digest, created_at FROM admin_credentials WHERE digest = $1`, digest).
		Scan(&c.ID, &c.Name, &c.Digest, &created)
	if err != nil {
		return nil, s.wrap(err)
	}
	c.CreatedAt = fromMicros(created)
	return &c, nil
}

// CountAdminCredentials implements store.Admins.
func (s *DB) CountAdminCredentials(ctx context.Context) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM admin_credentials`).Scan(&n)
	return n, s.wrap(err)
}
