-- A client's gateway budgets (store.RateLimits), as JSON; '{}' inherits the tenant's.
ALTER TABLE clients ADD COLUMN rate_limits TEXT NOT NULL DEFAULT '{}';
