package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/store"
)

var _ store.Users = (*DB)(nil)

const userCols = `id, tenant_id, email, name, password_hash, roles, api_enabled, created_at, updated_at, last_login_at, rate_limits`

func scanUser(row interface{ Scan(...any) error }) (*store.User, error) {
	var u store.User
	var roles, limits string
	var created, updated, login int64
	if err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.PasswordHash, &roles, &u.APIEnabled,
		&created, &updated, &login, &limits); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(created), fromMicros(updated), fromMicros(login)
	if err := fromJSON(limits, &u.RateLimits); err != nil {
		return nil, err
	}
	return &u, fromJSON(roles, &u.Roles)
}

// userArgs are the values of userCols, with email_lower last.
func userArgs(u *store.User) []any {
	return []any{u.ID, u.TenantID, u.Email, u.Name, u.PasswordHash, toJSON(nonNil(u.Roles)), u.APIEnabled,
		micros(u.CreatedAt), micros(u.UpdatedAt), micros(u.LastLoginAt), toJSON(u.RateLimits), store.EmailKey(u.Email)}
}

// CreateUser implements store.Users.
func (s *DB) CreateUser(ctx context.Context, u *store.User, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+userCols+`, email_lower)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, userArgs(u)...); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetUser implements store.Users.
func (s *DB) GetUser(ctx context.Context, id string) (*store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.getUser(ctx, `id = $1`, id)
}

// GetUserByEmail implements store.Users; the comparison is on the
// lower-cased email, the unique key.
func (s *DB) GetUserByEmail(ctx context.Context, tenantID, email string) (*store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.getUser(ctx, `tenant_id = $1 AND email_lower = $2`, tenantID, store.EmailKey(email))
}

func (s *DB) getUser(ctx context.Context, where string, args ...any) (*store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE `+where, args...))
	if err != nil {
		return nil, s.wrap(err)
	}
	if u.Groups, err = userGroupIDs(ctx, s.db, u.ID); err != nil {
		return nil, s.wrap(err)
	}
	return u, nil
}

func userGroupIDs(ctx context.Context, q querier, userID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ListUsers implements store.Users; ordered by id, Groups filled in.
func (s *DB) ListUsers(ctx context.Context, tenantID string, q store.UserQuery) ([]store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	query, args := `SELECT `+userCols+` FROM users WHERE tenant_id = $1 AND id > $2`, []any{tenantID, q.After}
	if q.Prefix != "" {
		// substr rather than LIKE: the prefix is the caller's text and
		// must not be read as a pattern. Both engines count characters.
		n := strconv.Itoa(utf8.RuneCountInString(q.Prefix))
		query += ` AND (substr(email_lower, 1, ` + n + `) = $3 OR substr(lower(name), 1, ` + n + `) = $3)`
		args = append(args, q.Prefix)
	}
	query += ` ORDER BY id LIMIT ` + strconv.Itoa(limit(q.Limit))
	users, err := s.queryUsers(ctx, s.db, query, args...)
	if err != nil {
		return nil, err
	}
	return users, s.wrap(s.fillGroups(ctx, users))
}

func (s *DB) queryUsers(ctx context.Context, q querier, query string, args ...any) ([]store.User, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// fillGroups sets Groups on a page of users with one query.
func (s *DB) fillGroups(ctx context.Context, users []store.User) error {
	if len(users) == 0 {
		return nil
	}
	index := map[string]*store.User{}
	var marks []string
	var args []any
	for i := range users {
		users[i].Groups = []string{}
		index[users[i].ID] = &users[i]
		args = append(args, users[i].ID)
		marks = append(marks, "$"+strconv.Itoa(len(args)))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, group_id FROM group_members WHERE user_id IN (`+
		strings.Join(marks, ", ")+`) ORDER BY group_id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var uid, gid string
		if err := rows.Scan(&uid, &gid); err != nil {
			return err
		}
		index[uid].Groups = append(index[uid].Groups, gid)
	}
	return rows.Err()
}

// lockTenant holds the tenant's row until the transaction ends, so that
// changes that could remove the last super user serialize (SQLite's BEGIN
// IMMEDIATE already serializes every write).
func (s *DB) lockTenant(ctx context.Context, tx *sql.Tx, id string) error {
	var got string
	return tx.QueryRowContext(ctx, `SELECT id FROM tenants WHERE id = $1`+s.d.ForUpdate, id).Scan(&got)
}

// keepSuper returns ErrLastSuper unless a user of the tenant other than
// except holds RoleSuper. The caller holds the tenant lock.
func keepSuper(ctx context.Context, tx *sql.Tx, tenantID, except string) error {
	// LIKE narrows the scan; the JSON decides (SQLite's LIKE ignores case).
	rows, err := tx.QueryContext(ctx, `SELECT roles FROM users WHERE tenant_id = $1 AND id <> $2 AND roles LIKE $3`,
		tenantID, except, `%"`+store.RoleSuper+`"%`)
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
		if slices.Contains(roles, store.RoleSuper) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return store.ErrLastSuper
}

// lockedUser locks the user's tenant, then reads the user for update.
func (s *DB) lockedUser(ctx context.Context, tx *sql.Tx, id string) (*store.User, error) {
	var tenant string
	if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM users WHERE id = $1`, id).Scan(&tenant); err != nil {
		return nil, err
	}
	if err := s.lockTenant(ctx, tx, tenant); err != nil {
		return nil, err
	}
	return scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`+s.d.ForUpdate, id))
}

// UpdateUser implements store.Users.
func (s *DB) UpdateUser(ctx context.Context, id string, mutate func(*store.User) error, ev store.Event) (*store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *store.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		u, err := s.lockedUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if u.Groups, err = userGroupIDs(ctx, tx, id); err != nil {
			return err
		}
		tenant, created, wasSuper := u.TenantID, u.CreatedAt, slices.Contains(u.Roles, store.RoleSuper)
		if err := mutate(u); err != nil {
			return err
		}
		u.ID, u.TenantID, u.CreatedAt = id, tenant, created
		if wasSuper && !slices.Contains(u.Roles, store.RoleSuper) {
			if err := keepSuper(ctx, tx, tenant, id); err != nil {
				return err
			}
		}
		args := userArgs(u)
		if _, err := tx.ExecContext(ctx, `UPDATE users SET email = $3, name = $4, password_hash = $5, roles = $6,
			api_enabled = $7, created_at = $8, updated_at = $9, last_login_at = $10, rate_limits = $11, email_lower = $12
			WHERE id = $1 AND tenant_id = $2`,
			args...); err != nil {
			return err
		}
		out = u
		return insertEvent(ctx, tx, ev)
	})
	return out, err
}

// DeleteUser implements store.Users.
func (s *DB) DeleteUser(ctx context.Context, id string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		u, err := s.lockedUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if slices.Contains(u.Roles, store.RoleSuper) {
			if err := keepSuper(ctx, tx, u.TenantID, id); err != nil {
				return err
			}
		}
		if err := affected(tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// SetUsersAPIEnabled implements store.Users.
func (s *DB) SetUsersAPIEnabled(ctx context.Context, tenantID string, ids []string, enabled bool, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			err := affected(tx.ExecContext(ctx, `UPDATE users SET api_enabled = $3, updated_at = $4 WHERE id = $1 AND tenant_id = $2`,
				id, tenantID, enabled, micros(ev.Time)))
			if errors.Is(err, store.ErrNotFound) {
				return &store.NotFoundError{Kind: "user", ID: id}
			}
			if err != nil {
				return err
			}
			one := ev
			one.Target = id
			if err := insertEvent(ctx, tx, one); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecordLogin implements store.Users.
func (s *DB) RecordLogin(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.wrap(affected(s.db.ExecContext(ctx, `UPDATE users SET last_login_at = $2 WHERE id = $1`, id, micros(at))))
}
