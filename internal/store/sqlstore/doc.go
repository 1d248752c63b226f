// Package sqlstore implements store.Store once over database/sql for both
// backends. The SQL is written once in the dialect both engines share
// ($N placeholders, ON CONFLICT, RETURNING); what differs (row locks, error
// codes, migrations) comes from the backend's Dialect, never from rewriting
// query text.
package sqlstore
