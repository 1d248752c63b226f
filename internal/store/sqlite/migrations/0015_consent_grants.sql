-- Remembered consent: the scopes a user approved for a client on the
-- consent page, one row per (tenant, user, client), so that a later
-- authorization asking for no more skips the page. scopes is a sorted JSON
-- list, only ever widened. Kept in step with postgres/migrations/0015_consent_grants.sql.
-- A grant goes with its tenant, its user or its client.
CREATE TABLE consent_grants (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id)
);
-- The cascades from users and clients look rows up by these.
CREATE INDEX consent_grants_user ON consent_grants(user_id);
CREATE INDEX consent_grants_client ON consent_grants(client_id);
