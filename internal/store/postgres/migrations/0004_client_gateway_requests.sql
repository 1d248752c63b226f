-- Requests a client's tokens made through the gateway (batched usage counter).
ALTER TABLE clients ADD COLUMN gateway_requests BIGINT NOT NULL DEFAULT 0;
