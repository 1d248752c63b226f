package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const clientCols = `id, tenant_id, name, grants, scopes, audiences, redirect_uris, access_token_ttl,
	token_format, issue_quota, secrets, created_at, updated_at, last_used_at, tokens_issued, granted_tenants, rate_limits, gateway_requests, owner_user_id`

func scanClient(row interface{ Scan(...any) error }) (*store.Client, error) {
	var c store.Client
	var grants, scopes, auds, uris, quota, secrets, granted, limits string
	var ttl, created, updated, lastUsed int64
	if err := row.Scan(&c.ID, &c.TenantID, &c.Name, &grants, &scopes, &auds, &uris, &ttl,
		&c.TokenFormat, &quota, &secrets, &created, &updated, &lastUsed, &c.TokensIssued, &granted, &limits, &c.GatewayRequests, &c.OwnerUserID); err != nil {
		return nil, err
	}
	c.AccessTokenTTL = time.Duration(ttl) * time.Second
	c.CreatedAt, c.UpdatedAt, c.LastUsedAt = fromMicros(created), fromMicros(updated), fromMicros(lastUsed)
	for _, f := range []struct {
		s string
		v any
	}{{grants, &c.Grants}, {scopes, &c.Scopes}, {auds, &c.Audiences}, {uris, &c.RedirectURIs}, {quota, &c.IssueQuota},
		{secrets, &c.Secrets}, {granted, &c.GrantedTenants}, {limits, &c.RateLimits}} {
		if err := fromJSON(f.s, f.v); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

func clientArgs(c *store.Client) []any {
	return []any{c.ID, c.TenantID, c.Name, toJSON(nonNil(c.Grants)), toJSON(nonNil(c.Scopes)), toJSON(nonNil(c.Audiences)),
		toJSON(nonNil(c.RedirectURIs)), int64(c.AccessTokenTTL / time.Second), c.TokenFormat, toJSON(c.IssueQuota),
		toJSON(c.Secrets), micros(c.CreatedAt), micros(c.UpdatedAt), toJSON(nonNil(c.GrantedTenants)), toJSON(c.RateLimits), c.OwnerUserID}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CreateClient implements store.Clients.
func (s *DB) CreateClient(ctx context.Context, c *store.Client, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if slices.Contains(c.Grants, store.GrantAuthorizationCode) {
			if err := s.oneIntegration(ctx, tx, c); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO clients (id, tenant_id, name, grants, scopes, audiences,
			redirect_uris, access_token_ttl, token_format, issue_quota, secrets, created_at, updated_at, granted_tenants,
			rate_limits, owner_user_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`, clientArgs(c)...); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// oneIntegration applies the tenant policy OneActiveIntegration to c, which
// is gaining the authorization_code grant. The tenant's row stays locked
// until the transaction ends, so two such writes serialize and the second
// sees the first (SQLite's BEGIN IMMEDIATE already serializes every write).
func (s *DB) oneIntegration(ctx context.Context, tx *sql.Tx, c *store.Client) error {
	t, err := scanTenant(tx.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`+s.d.ForUpdate, c.TenantID))
	if err != nil || !t.Settings.OneActiveIntegration {
		return err
	}
	// LIKE narrows the scan; the JSON decides (_ is a LIKE wildcard).
	rows, err := tx.QueryContext(ctx, `SELECT id, grants FROM clients WHERE tenant_id = $1 AND id <> $2 AND grants LIKE $3
		ORDER BY id`, c.TenantID, c.ID, `%"`+store.GrantAuthorizationCode+`"%`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, js string
		var grants []string
		if err := rows.Scan(&id, &js); err != nil {
			return err
		}
		if err := fromJSON(js, &grants); err != nil {
			return err
		}
		if slices.Contains(grants, store.GrantAuthorizationCode) {
			return &store.OneIntegrationError{ClientID: id}
		}
	}
	return rows.Err()
}

// GetClient implements store.Clients.
func (s *DB) GetClient(ctx context.Context, id string) (*store.Client, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c, err := scanClient(s.db.QueryRowContext(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id))
	return c, s.wrap(err)
}

// ListClients implements store.Clients; ordered by id.
func (s *DB) ListClients(ctx context.Context, tenantID string, page store.Page) ([]store.Client, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT `+clientCols+` FROM clients WHERE tenant_id = $1 AND id > $2
		ORDER BY id LIMIT $3`, tenantID, page.After, limit(page.Limit))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// UpdateClient implements store.Clients. The id and tenant cannot change.
func (s *DB) UpdateClient(ctx context.Context, id string, mutate func(*store.Client) error, ev store.Event) (*store.Client, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *store.Client
	err := s.tx(ctx, func(tx *sql.Tx) error {
		c, err := scanClient(tx.QueryRowContext(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		tenant, had := c.TenantID, slices.Contains(c.Grants, store.GrantAuthorizationCode)
		if err := mutate(c); err != nil {
			return err
		}
		c.ID, c.TenantID = id, tenant
		if !had && slices.Contains(c.Grants, store.GrantAuthorizationCode) {
			if err := s.oneIntegration(ctx, tx, c); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE clients SET tenant_id = $2, name = $3, grants = $4, scopes = $5,
			audiences = $6, redirect_uris = $7, access_token_ttl = $8, token_format = $9, issue_quota = $10,
			secrets = $11, created_at = $12, updated_at = $13, granted_tenants = $14, rate_limits = $15,
			owner_user_id = $16 WHERE id = $1`, clientArgs(c)...); err != nil {
			return err
		}
		out = c
		return insertEvent(ctx, tx, ev)
	})
	return out, err
}

// DeleteClient implements store.Clients.
func (s *DB) DeleteClient(ctx context.Context, id string, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `DELETE FROM clients WHERE id = $1`, id)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// AddClientUsage implements store.Clients. Rows are written in (client,
// hour) order, so that two replicas flushing at once cannot deadlock.
func (s *DB) AddClientUsage(ctx context.Context, usage []store.ClientUsage) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	usage = slices.Clone(usage)
	slices.SortFunc(usage, func(a, b store.ClientUsage) int {
		return cmp.Or(strings.Compare(a.ClientID, b.ClientID), a.Hour.Compare(b.Hour))
	})
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, u := range usage {
			if _, err := tx.ExecContext(ctx, `UPDATE clients SET tokens_issued = tokens_issued + $2,
				gateway_requests = gateway_requests + $4,
				last_used_at = CASE WHEN last_used_at > $3 THEN last_used_at ELSE $3 END WHERE id = $1`,
				u.ClientID, u.Issued, micros(u.LastUsed), u.Requests); err != nil {
				return err
			}
			if u.Hour.IsZero() {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO client_usage_hourly (client_id, hour, issued, requests, rejected)
				SELECT id, $2, $3, $4, $5 FROM clients WHERE id = $1
				ON CONFLICT (client_id, hour) DO UPDATE SET issued = client_usage_hourly.issued + excluded.issued,
					requests = client_usage_hourly.requests + excluded.requests,
					rejected = client_usage_hourly.rejected + excluded.rejected`,
				u.ClientID, micros(hour(u.Hour)), u.Issued, u.Requests, u.Rejected); err != nil {
				return err
			}
		}
		return nil
	})
}

// hour is the start of t's UTC hour.
func hour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// ClientUsageSince implements store.Clients.
func (s *DB) ClientUsageSince(ctx context.Context, tenantID string, since time.Time) ([]store.ClientUsage, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT u.client_id, u.hour, u.issued, u.requests, u.rejected
		FROM client_usage_hourly u JOIN clients c ON c.id = u.client_id
		WHERE c.tenant_id = $1 AND u.hour >= $2 ORDER BY u.client_id, u.hour`, tenantID, micros(hour(since)))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []store.ClientUsage
	for rows.Next() {
		var u store.ClientUsage
		var h int64
		if err := rows.Scan(&u.ClientID, &h, &u.Issued, &u.Requests, &u.Rejected); err != nil {
			return nil, err
		}
		u.Hour = fromMicros(h).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// PurgeClientUsage implements store.Clients.
func (s *DB) PurgeClientUsage(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, `DELETE FROM client_usage_hourly WHERE (client_id, hour) IN
		(SELECT client_id, hour FROM client_usage_hourly WHERE hour < $1 LIMIT $2)`, micros(before), limit)
	if err != nil {
		return 0, s.wrap(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
