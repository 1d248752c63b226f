package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse/gatehouse/internal/store"
)

const tenantCols = `id, name, settings, created_at, updated_at`

func scanTenant(row interface{ Scan(...any) error }) (*store.Tenant, error) {
	var t store.Tenant
	var settings string
	var created, updated int64
	if err := row.Scan(&t.ID, &t.Name, &settings, &created, &updated); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &t, fromJSON(settings, &t.Settings)
}

// CreateTenant implements store.Tenants.
func (s *DB) CreateTenant(ctx context.Context, t *store.Tenant, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1, $2, $3, $4, $5)`,
			t.ID, t.Name, toJSON(t.Settings), micros(t.CreatedAt), micros(t.UpdatedAt)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetTenant implements store.Tenants.
func (s *DB) GetTenant(ctx context.Context, name string) (*store.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	t, err := scanTenant(s.db.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE name = $1`, name))
	return t, s.wrap(err)
}

// GetTenantByID implements store.Tenants.
func (s *DB) GetTenantByID(ctx context.Context, id string) (*store.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	t, err := scanTenant(s.db.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
	return t, s.wrap(err)
}

// ListTenants implements store.Tenants; ordered by name.
func (s *DB) ListTenants(ctx context.Context, page store.Page) ([]store.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE name > $1 ORDER BY name LIMIT $2`,
		page.After, limit(page.Limit))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// UpdateTenant implements store.Tenants.
func (s *DB) UpdateTenant(ctx context.Context, id string, mutate func(*store.Tenant) error, ev store.Event) (*store.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *store.Tenant
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t, err := scanTenant(tx.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if err := mutate(t); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET name = $2, settings = $3, updated_at = $4 WHERE id = $1`,
			id, t.Name, toJSON(t.Settings), micros(t.UpdatedAt)); err != nil {
			return err
		}
		out = t
		return insertEvent(ctx, tx, ev)
	})
	return out, err
}

// DeleteTenant implements store.Tenants; clients and their tokens go with it.
func (s *DB) DeleteTenant(ctx context.Context, id string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = $1`, id)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}
