-- Per-integration usage by the hour, for the console's usage chart: tokens
-- issued, gateway requests let through and requests refused by the rate
-- limit. hour is the start of the UTC hour in Unix microseconds. Rows are
-- added to by every replica's usage flush (an upsert) and purged after a
-- retention period by housekeeping.
CREATE TABLE client_usage_hourly (
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    hour      BIGINT NOT NULL,
    issued    BIGINT NOT NULL DEFAULT 0,
    requests  BIGINT NOT NULL DEFAULT 0,
    rejected  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, hour)
);
CREATE INDEX client_usage_hourly_hour ON client_usage_hourly(hour);
