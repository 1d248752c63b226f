-- Authorization codes and refresh-token families (the authorization code flow).
CREATE TABLE auth_codes (
    digest       TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope        TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    challenge    TEXT NOT NULL,
    auth_time    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER NOT NULL DEFAULT 0,
    family_id    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_codes_expiry ON auth_codes(expires_at);

CREATE TABLE refresh_families (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
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
    access_tokens TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX refresh_families_user ON refresh_families(tenant_id, user_id);
CREATE INDEX refresh_families_client ON refresh_families(client_id);
CREATE INDEX refresh_families_expiry ON refresh_families(expires_at);

-- Every refresh token ever issued in a family, by digest, with the
-- generation it was issued at: an old one presented again is reuse.
CREATE TABLE refresh_tokens (
    digest      TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL REFERENCES refresh_families(id) ON DELETE CASCADE,
    generation  INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
