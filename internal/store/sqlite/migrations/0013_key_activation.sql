-- Publish-ahead key rotation: a new signing key is published in the JWKS at
-- created_at and signs from activates_at (Unix microseconds; 0 means from
-- created_at), so every verifier has it before the first token it signs.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;
