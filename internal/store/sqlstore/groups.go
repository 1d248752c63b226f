package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"github.com/gatehouse/gatehouse/internal/store"
)

const groupCols = `id, tenant_id, name, api_enabled, created_at, updated_at`

func scanGroup(row interface{ Scan(...any) error }) (*store.Group, error) {
	var g store.Group
	var created, updated int64
	if err := row.Scan(&g.ID, &g.TenantID, &g.Name, &g.APIEnabled, &created, &updated); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &g, nil
}

func (s *DB) queryGroups(ctx context.Context, query string, args ...any) ([]store.Group, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *g)
	}
	return out, rows.Err()
}

// CreateGroup implements store.Users.
func (s *DB) CreateGroup(ctx context.Context, g *store.Group, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO groups (`+groupCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			g.ID, g.TenantID, g.Name, g.APIEnabled, micros(g.CreatedAt), micros(g.UpdatedAt)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetGroup implements store.Users.
func (s *DB) GetGroup(ctx context.Context, id string) (*store.Group, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	g, err := scanGroup(s.db.QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups WHERE id = $1`, id))
	return g, s.wrap(err)
}

// ListGroups implements store.Users; ordered by id.
func (s *DB) ListGroups(ctx context.Context, tenantID string, page store.Page) ([]store.Group, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.queryGroups(ctx, `SELECT `+groupCols+` FROM groups WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		tenantID, page.After, limit(page.Limit))
}

// ListUserGroups implements store.Users.
func (s *DB) ListUserGroups(ctx context.Context, userID string) ([]store.Group, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.queryGroups(ctx, `SELECT `+groupCols+` FROM groups WHERE id IN
		(SELECT group_id FROM group_members WHERE user_id = $1) ORDER BY id`, userID)
}

// UpdateGroup implements store.Users; the id, tenant and creation time
// cannot change.
func (s *DB) UpdateGroup(ctx context.Context, id string, mutate func(*store.Group) error, ev store.Event) (*store.Group, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *store.Group
	err := s.tx(ctx, func(tx *sql.Tx) error {
		g, err := scanGroup(tx.QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if err := mutate(g); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE groups SET name = $2, api_enabled = $3, updated_at = $4 WHERE id = $1`,
			id, g.Name, g.APIEnabled, micros(g.UpdatedAt)); err != nil {
			return err
		}
		g.ID = id
		out = g
		return insertEvent(ctx, tx, ev)
	})
	return out, err
}

// DeleteGroup implements store.Users; memberships go with it.
func (s *DB) DeleteGroup(ctx context.Context, id string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `DELETE FROM groups WHERE id = $1`, id)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// AddGroupMember implements store.Users. Adding a member twice writes
// nothing the second time, event included.
func (s *DB) AddGroupMember(ctx context.Context, groupID, userID string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		var gt, ut string
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM groups WHERE id = $1`, groupID).Scan(&gt); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM users WHERE id = $1`, userID).Scan(&ut); err != nil {
			return err
		}
		if gt != ut {
			return store.ErrNotFound
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			groupID, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// RemoveGroupMember implements store.Users.
func (s *DB) RemoveGroupMember(ctx context.Context, groupID, userID string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`,
			groupID, userID)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// ListGroupMembers implements store.Users; ordered by user id.
func (s *DB) ListGroupMembers(ctx context.Context, groupID string, page store.Page) ([]store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	users, err := s.queryUsers(ctx, s.db, `SELECT `+userCols+` FROM users WHERE id IN
		(SELECT user_id FROM group_members WHERE group_id = $1) AND id > $2 ORDER BY id LIMIT $3`,
		groupID, page.After, limit(page.Limit))
	if err != nil {
		return nil, err
	}
	return users, s.wrap(s.fillGroups(ctx, users))
}

// CreateRole implements store.Users.
func (s *DB) CreateRole(ctx context.Context, r *store.Role, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO roles (tenant_id, name, scopes) VALUES ($1, $2, $3)`,
			r.TenantID, r.Name, toJSON(nonNil(r.Scopes))); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// ListRoles implements store.Users; ordered by name.
func (s *DB) ListRoles(ctx context.Context, tenantID string) ([]store.Role, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT tenant_id, name, scopes FROM roles WHERE tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.Role
	for rows.Next() {
		var r store.Role
		var scopes string
		if err := rows.Scan(&r.TenantID, &r.Name, &scopes); err != nil {
			return nil, err
		}
		if err := fromJSON(scopes, &r.Scopes); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteRole implements store.Users.
func (s *DB) DeleteRole(ctx context.Context, tenantID, name string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		// LIKE narrows the scan ('_' may match more); the JSON decides.
		rows, err := tx.QueryContext(ctx, `SELECT roles FROM users WHERE tenant_id = $1 AND roles LIKE $2`,
			tenantID, `%"`+name+`"%`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var js string
			var roles []string
			if err := rows.Scan(&js); err != nil {
				return err
			}
			if err := fromJSON(js, &roles); err != nil {
				return err
			}
			if slices.Contains(roles, name) {
				return store.ErrConflict
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if err := affected(tx.ExecContext(ctx, `DELETE FROM roles WHERE tenant_id = $1 AND name = $2`, tenantID, name)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}
