-- When each jti was denied, so replicas can load only what is new.
ALTER TABLE jti_denylist ADD COLUMN denied_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jti_denylist_denied ON jti_denylist(denied_at);
