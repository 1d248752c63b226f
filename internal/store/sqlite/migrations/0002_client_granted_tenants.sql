-- A client may be granted access to other tenants (DESIGN.md, Client): their ids, as JSON.
ALTER TABLE clients ADD COLUMN granted_tenants TEXT NOT NULL DEFAULT '[]';
