-- Requests a client's tokens made through the gateway (batched usage counter).
ALTER TABLE clients ADD COLUMN gateway_requests INTEGER NOT NULL DEFAULT 0;
