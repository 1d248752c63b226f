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
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL DEFAULT 0,
    revoked_at    BIGINT NOT NULL DEFAULT 0,
    last_login_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id, created_at);

-- An API-key session is a refresh family with api_key_id set; one bound to
-- a user has no client (NULL keeps the foreign key for the others).
ALTER TABLE refresh_families ALTER COLUMN client_id DROP NOT NULL;
ALTER TABLE refresh_families ADD COLUMN api_key_id TEXT REFERENCES api_keys(id) ON DELETE CASCADE;
CREATE INDEX refresh_families_api_key ON refresh_families(api_key_id);
