// Package users owns a tenant's people: users (email as login name, unique
// per tenant ignoring case; argon2id password hashes), groups, and roles,
// which map to scopes. It decides who may log in (Login), what a user's
// roles grant (Scopes), and who may use the API (HasAPIAccess: super, or
// api_enabled on the user or on any group they belong to).
//
// The rule that a tenant keeps at least one super user is enforced by the
// store inside the transaction of each change that could break it, so two
// admins racing cannot both remove it.
package users
