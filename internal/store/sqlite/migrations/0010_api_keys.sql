-- API keys: exchanged at POST /auth/login for an access and refresh token
-- pair (an API-key session). Kept as SHA-256 digests only; a key is bound
-- to a user or to a client of its tenant (the other column is '').
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL DEFAULT '',
    client_id     TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL DEFAULT 0,
    revoked_at    INTEGER NOT NULL DEFAULT 0,
    last_login_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id, created_at);

-- An API-key session is a refresh family with api_key_id set; one bound to
-- a user has no client, so client_id becomes nullable. SQLite cannot alter
-- a column: both family tables are rebuilt (children first, so that no
-- DROP cascades; RENAME carries the foreign keys along).
CREATE TABLE refresh_families_new (
    id            TEXT PRIMARY KEY,
    client_id     TEXT REFERENCES clients(id) ON DELETE CASCADE,
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    scope         TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    auth_time     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    generation    INTEGER NOT NULL,
    rotated_at    INTEGER NOT NULL,
    replay        BLOB,
    revoked_at    INTEGER NOT NULL DEFAULT 0,
    access_tokens TEXT NOT NULL DEFAULT '[]',
    api_key_id    TEXT REFERENCES api_keys(id) ON DELETE CASCADE
);
INSERT INTO refresh_families_new (id, client_id, tenant_id, user_id, scope, nonce, auth_time, created_at, expires_at,
    generation, rotated_at, replay, revoked_at, access_tokens)
SELECT id, client_id, tenant_id, user_id, scope, nonce, auth_time, created_at, expires_at,
    generation, rotated_at, replay, revoked_at, access_tokens FROM refresh_families;
CREATE TABLE refresh_tokens_new (
    digest      TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL REFERENCES refresh_families_new(id) ON DELETE CASCADE,
    generation  INTEGER NOT NULL
);
INSERT INTO refresh_tokens_new (digest, family_id, generation) SELECT digest, family_id, generation FROM refresh_tokens;
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
ALTER TABLE refresh_families_new RENAME TO refresh_families;
ALTER TABLE refresh_tokens_new RENAME TO refresh_tokens;
CREATE INDEX refresh_families_user ON refresh_families(tenant_id, user_id);
CREATE INDEX refresh_families_client ON refresh_families(client_id);
CREATE INDEX refresh_families_expiry ON refresh_families(expires_at);
CREATE INDEX refresh_families_api_key ON refresh_families(api_key_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
