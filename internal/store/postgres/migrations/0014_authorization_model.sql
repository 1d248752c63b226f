-- One deny list for every token kind (internal/revocation): an entry is
-- "<kind>:<id>", "jti:" for an access token (JWT or opaque), "fam:" for a
-- refresh family, whose id every token minted from it carries as sid, and
-- "session:" for a browser session (already spelled so).
ALTER TABLE jti_denylist RENAME TO revocations;
ALTER TABLE revocations RENAME COLUMN jti TO id;
UPDATE revocations SET id = 'jti:' || id WHERE id NOT LIKE 'session:%';

-- Opaque tokens carry a jti and the family they came from, like JWTs, so
-- that one deny list reaches both formats.
ALTER TABLE opaque_tokens ADD COLUMN jti TEXT NOT NULL DEFAULT '';
ALTER TABLE opaque_tokens ADD COLUMN session_id TEXT NOT NULL DEFAULT '';

-- A user's gateway budgets (PATs, IdP tokens, API-key sessions bound to
-- the user), overriding the tenant's; '{}' inherits.
ALTER TABLE users ADD COLUMN rate_limits TEXT NOT NULL DEFAULT '{}';

-- A PAT created by a narrower credential keeps that credential's scopes
-- (a JSON list); '' is a PAT acting with all of its user's roles.
ALTER TABLE pats ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
