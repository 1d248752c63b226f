-- Tenant webhooks: an outbox. An event is written in the transaction that
-- decides it and delivered later by whichever replica claims it, so none
-- is lost across restarts. payload is the event's "data" object (JSON);
-- dedup_key, when not NULL, is unique per tenant and makes a second
-- enqueue of the same notice a no-op. next_attempt_at is when the event
-- is next due (a claim pushes it one lease ahead); 0 once it is delivered
-- (delivered_at set) or abandoned (last_error kept).
CREATE TABLE webhook_events (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedup_key       TEXT,
    created_at      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX webhook_events_dedup ON webhook_events(tenant_id, dedup_key);
CREATE INDEX webhook_events_due ON webhook_events(next_attempt_at) WHERE next_attempt_at > 0;
CREATE INDEX webhook_events_finished ON webhook_events(created_at) WHERE next_attempt_at = 0;

-- Which expiry notice of a PAT was enqueued last: 0 none, 7 the 7-day
-- notice, 1 the 1-day notice (the last one a token gets).
ALTER TABLE pats ADD COLUMN expiry_notified INTEGER NOT NULL DEFAULT 0;
CREATE INDEX pats_expiry_notice ON pats(expires_at) WHERE revoked_at = 0 AND expires_at <> 0 AND expiry_notified <> 1;
