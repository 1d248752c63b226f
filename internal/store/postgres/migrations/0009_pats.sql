-- Personal access tokens: a user's own bearer tokens, kept as SHA-256
-- digests only; prefix is the token's first characters, for display.
CREATE TABLE pats (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    digest       TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    revoked_at   BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    last_used_ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pats_user ON pats(user_id, revoked_at);
CREATE INDEX pats_tenant_expiry ON pats(tenant_id, expires_at);
