// Package authn turns a bearer credential into a Principal: who is calling
// and what they may do now. It is the one place the authorization model is
// applied (docs/security.md, "The authorization model"): the gateway,
// introspection, the self-service surface and the API-key session
// endpoints all ask it.
//
// A principal is its holder intersected with its credential, evaluated on
// every request: the effective scopes are the credential's scopes
// intersected with what the holder may do at this moment (the client's
// current scopes and audiences; the user's current roles and API access;
// the tenant's current mode); a user's credential covers the user's tenant
// only, a client's covers its tenant and those granted to it; its budgets
// are the credential's own overrides, then its tenant's.
//
// Credentials: Gatehouse access tokens of both formats (JWTs verified once
// and remembered until they expire; opaque tokens looked up by digest),
// whatever grant minted them; personal access tokens (gate_pat_…); and
// tokens from a tenant's own identity provider (tenants in user_auth_mode
// oauth), mapped to a user by the login they name. Every token is checked
// against the one deny list (package revocation) by its jti and by the
// refresh family it came from; every replica keeps a copy of the list in
// memory and refreshes it every --deny-list-refresh. What the holder may
// do is read through short caches (the same bound); changes made through
// this replica reach them at once (Watch).
package authn
