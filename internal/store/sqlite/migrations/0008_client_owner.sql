-- The user a user-based integration belongs to (store.Client.OwnerUserID); '' for none.
ALTER TABLE clients ADD COLUMN owner_user_id TEXT NOT NULL DEFAULT '';
