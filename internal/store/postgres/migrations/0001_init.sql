-- Gatehouse schema, PostgreSQL. Kept in step with sqlite/migrations/0001_init.sql.
-- Times are Unix microseconds (UTC); lists and small structs are JSON text.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE clients (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    grants           TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    audiences        TEXT NOT NULL,
    redirect_uris    TEXT NOT NULL,
    access_token_ttl BIGINT NOT NULL,
    token_format     TEXT NOT NULL,
    issue_quota      TEXT NOT NULL,
    secrets          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_used_at     BIGINT NOT NULL DEFAULT 0,
    tokens_issued    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX clients_tenant ON clients(tenant_id, id);

CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    sealed      BYTEA NOT NULL,
    public      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

CREATE TABLE opaque_tokens (
    digest      TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    audience    TEXT NOT NULL,
    orgs        TEXT NOT NULL,
    auth        TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX opaque_tokens_expiry ON opaque_tokens(expires_at);

CREATE TABLE jti_denylist (
    jti         TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX jti_denylist_expiry ON jti_denylist(expires_at);

CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    time        BIGINT NOT NULL,
    tenant_id   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_events_tenant ON audit_events(tenant_id, id);

CREATE TABLE admin_credentials (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    digest      TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
