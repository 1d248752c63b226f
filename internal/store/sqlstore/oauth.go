package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/store"
)

const codeCols = `digest, client_id, tenant_id, user_id, redirect_uri, scope, nonce, challenge, auth_time, expires_at, used_at, family_id`

// CreateAuthCode implements store.OAuth.
func (s *DB) CreateAuthCode(ctx context.Context, c *store.AuthCode, ev store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_codes (`+codeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			c.Digest, c.ClientID, c.TenantID, c.UserID, c.RedirectURI, c.Scope, c.Nonce, c.Challenge,
			micros(c.AuthTime), micros(c.ExpiresAt), micros(c.UsedAt), c.FamilyID); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetAuthCode implements store.OAuth.
func (s *DB) GetAuthCode(ctx context.Context, digest string) (*store.AuthCode, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var c store.AuthCode
	var auth, exp, used int64
	err := s.db.QueryRowContext(ctx, `SELECT `+codeCols+` FROM auth_codes WHERE digest = $1`, digest).Scan(
		&c.Digest, &c.ClientID, &c.TenantID, &c.UserID, &c.RedirectURI, &c.Scope, &c.Nonce, &c.Challenge,
		&auth, &exp, &used, &c.FamilyID)
	if err != nil {
		return nil, s.wrap(err)
	}
	c.AuthTime, c.ExpiresAt, c.UsedAt = fromMicros(auth), fromMicros(exp), fromMicros(used)
	return &c, nil
}

// RedeemAuthCode implements store.OAuth.
func (s *DB) RedeemAuthCode(ctx context.Context, digest string, now time.Time, fam *store.RefreshFamily, tokenDigest string, ev, reuseEv store.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var reused bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The conditional update is the atomic step: of two concurrent
		// redemptions, one changes the row and the other sees it changed.
		err := affected(tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = $2, family_id = $3 WHERE digest = $1 AND used_at = 0`,
			digest, micros(now), fam.ID))
		if errors.Is(err, store.ErrNotFound) {
			var first string
			if err := tx.QueryRowContext(ctx, `SELECT family_id FROM auth_codes WHERE digest = $1`, digest).Scan(&first); err != nil {
				return err // ErrNoRows → not found
			}
			reused = true
			if _, err := revokeFamilies(ctx, tx, s.d, store.FamilyFilter{ID: first}, now); err != nil {
				return err
			}
			return insertEvent(ctx, tx, reuseEv)
		}
		if err != nil {
			return err
		}
		if err := insertFamily(ctx, tx, fam); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (digest, family_id, generation) VALUES ($1, $2, $3)`,
			tokenDigest, fam.ID, fam.Generation); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return s.wrap(err)
	}
	if reused {
		return store.ErrReused
	}
	return nil
}

const familyCols = `id, client_id, tenant_id, user_id, scope, nonce, auth_time, created_at, expires_at, generation, rotated_at, replay, revoked_at, access_tokens, api_key_id`

// familySelect reads familyCols; client_id and api_key_id are NULL when
// unset, so that their foreign keys hold.
const familySelect = `SELECT id, COALESCE(client_id, ''), tenant_id, user_id, scope, nonce, auth_time, created_at, expires_at,
	generation, rotated_at, replay, revoked_at, access_tokens, COALESCE(api_key_id, '') FROM refresh_families`

func insertFamily(ctx context.Context, q querier, f *store.RefreshFamily) error {
	_, err := q.ExecContext(ctx, `INSERT INTO refresh_families (`+familyCols+`) VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULLIF($15, ''))`,
		f.ID, f.ClientID, f.TenantID, f.UserID, f.Scope, f.Nonce, micros(f.AuthTime), micros(f.CreatedAt), micros(f.ExpiresAt),
		f.Generation, micros(f.RotatedAt), f.Replay, micros(f.RevokedAt), toJSON(tokensOrEmpty(f.AccessTokens)), f.APIKeyID)
	return err
}

func tokensOrEmpty(t []store.IssuedToken) []store.IssuedToken {
	if t == nil {
		return []store.IssuedToken{}
	}
	return t
}

func scanFamily(row interface{ Scan(...any) error }) (*store.RefreshFamily, error) {
	var f store.RefreshFamily
	var auth, created, exp, rotated, revoked int64
	var access string
	if err := row.Scan(&f.ID, &f.ClientID, &f.TenantID, &f.UserID, &f.Scope, &f.Nonce, &auth, &created, &exp,
		&f.Generation, &rotated, &f.Replay, &revoked, &access, &f.APIKeyID); err != nil {
		return nil, err
	}
	f.AuthTime, f.CreatedAt, f.ExpiresAt = fromMicros(auth), fromMicros(created), fromMicros(exp)
	f.RotatedAt, f.RevokedAt = fromMicros(rotated), fromMicros(revoked)
	return &f, fromJSON(access, &f.AccessTokens)
}

// GetFamilyByToken implements store.OAuth.
func (s *DB) GetFamilyByToken(ctx context.Context, digest string) (*store.RefreshFamily, int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var famID string
	var gen int64
	if err := s.db.QueryRowContext(ctx, `SELECT family_id, generation FROM refresh_tokens WHERE digest = $1`, digest).Scan(&famID, &gen); err != nil {
		return nil, 0, s.wrap(err)
	}
	f, err := scanFamily(s.db.QueryRowContext(ctx, familySelect+` WHERE id = $1`, famID))
	return f, gen, s.wrap(err)
}

// UpdateFamilyByToken implements store.OAuth.
func (s *DB) UpdateFamilyByToken(ctx context.Context, digest string, fn func(f *store.RefreshFamily, issuedAt int64) (string, *store.Event, error)) (*store.RefreshFamily, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *store.RefreshFamily
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var famID string
		var gen int64
		if err := tx.QueryRowContext(ctx, `SELECT family_id, generation FROM refresh_tokens WHERE digest = $1`, digest).Scan(&famID, &gen); err != nil {
			return err
		}
		// Holding the family row serialises rotations: the generation
		// read here is the one written below, whoever else is trying.
		f, err := scanFamily(tx.QueryRowContext(ctx, familySelect+` WHERE id = $1`+s.d.ForUpdate, famID))
		if err != nil {
			return err
		}
		wasRevoked := !f.RevokedAt.IsZero()
		newToken, ev, err := fn(f, gen)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_families SET scope = $2, generation = $3, rotated_at = $4, replay = $5,
			revoked_at = $6, access_tokens = $7 WHERE id = $1`,
			f.ID, f.Scope, f.Generation, micros(f.RotatedAt), f.Replay, micros(f.RevokedAt), toJSON(tokensOrEmpty(f.AccessTokens))); err != nil {
			return err
		}
		if newToken != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (digest, family_id, generation) VALUES ($1, $2, $3)`,
				newToken, f.ID, f.Generation); err != nil {
				return err
			}
		}
		if !wasRevoked && !f.RevokedAt.IsZero() {
			if err := denyFamily(ctx, tx, f.ID, f.AccessTokens, f.RevokedAt); err != nil {
				return err
			}
		}
		if ev != nil {
			if err := insertEvent(ctx, tx, *ev); err != nil {
				return err
			}
		}
		out = f
		return nil
	})
	return out, s.wrap(err)
}

// RevokeFamilies implements store.OAuth.
func (s *DB) RevokeFamilies(ctx context.Context, f store.FamilyFilter, now time.Time, ev store.Event) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = revokeFamilies(ctx, tx, s.d, f, now); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		return insertEvent(ctx, tx, ev)
	})
	return n, s.wrap(err)
}

// revokeFamilies revokes the live families matching f and denies their
// access tokens.
func revokeFamilies(ctx context.Context, tx *sql.Tx, d Dialect, f store.FamilyFilter, now time.Time) (int, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"id", f.ID}, {"client_id", f.ClientID}, {"tenant_id", f.TenantID}, {"user_id", f.UserID}, {"api_key_id", f.APIKeyID}} {
		if c.v != "" {
			args = append(args, c.v)
			where = append(where, c.col+" = $"+strconv.Itoa(len(args)))
		}
	}
	if len(where) == 0 {
		return 0, errors.New("sqlstore: RevokeFamilies needs a filter")
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, access_tokens FROM refresh_families WHERE revoked_at = 0 AND `+
		strings.Join(where, " AND ")+d.ForUpdate, args...)
	if err != nil {
		return 0, err
	}
	type fam struct {
		id     string
		tokens []store.IssuedToken
	}
	var fams []fam
	for rows.Next() {
		var f fam
		var access string
		if err := rows.Scan(&f.id, &access); err != nil {
			rows.Close()
			return 0, err
		}
		if err := fromJSON(access, &f.tokens); err != nil {
			rows.Close()
			return 0, err
		}
		fams = append(fams, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, f := range fams {
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = $2, replay = NULL WHERE id = $1`, f.id, micros(now)); err != nil {
			return 0, err
		}
		if err := denyFamily(ctx, tx, f.id, f.tokens, now); err != nil {
			return 0, err
		}
	}
	return len(fams), nil
}

// denyFamily puts a revoked family on the deny list, for as long as a
// token minted from it could live (every such token carries its id as
// sid), and its unexpired access tokens by jti (tokens minted before sid
// was their claim carry only that).
func denyFamily(ctx context.Context, tx *sql.Tx, id string, tokens []store.IssuedToken, now time.Time) error {
	if err := deny(ctx, tx, revocation.ID(revocation.Family, id), now.Add(revocation.MaxTokenLifetime), now); err != nil {
		return err
	}
	for _, t := range tokens {
		if t.JTI == "" || !t.ExpiresAt.After(now) {
			continue
		}
		if err := deny(ctx, tx, revocation.ID(revocation.Token, t.JTI), t.ExpiresAt, now); err != nil {
			return err
		}
	}
	return nil
}
