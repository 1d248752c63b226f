package store

import (
	"context"
	"time"
)

// ConsentGrant is what a user approved for a client on the consent page
// (remembered consent): the scopes, for one (tenant, user, client). A
// later authorization asking for no more than Scopes need not ask again.
type ConsentGrant struct {
	TenantID, UserID, ClientID string
	// Scopes are sorted and without repeats.
	Scopes []string
	// CreatedAt is the first consent; UpdatedAt the latest.
	CreatedAt, UpdatedAt time.Time
}

// ConsentGrants persists remembered consent. Mutations write their event
// in the same transaction.
type ConsentGrants interface {
	// GrantConsent records that g.UserID approved g.Scopes for g.ClientID:
	// a first consent stores g; a later one widens the stored grant to the
	// union of both scope sets (a consent never narrows what an earlier
	// one approved) and moves UpdatedAt on. g is filled in with the stored
	// grant. A user or client unknown in g.TenantID is ErrNotFound.
	GrantConsent(ctx context.Context, g *ConsentGrant, ev Event) error
	// GetConsent returns the grant of a user for a client; ErrNotFound
	// when there is none.
	GetConsent(ctx context.Context, tenantID, userID, clientID string) (*ConsentGrant, error)
	// ListConsents returns a user's grants, most recently consented first.
	ListConsents(ctx context.Context, tenantID, userID string) ([]ConsentGrant, error)
	// RevokeConsent deletes the grant and, in the same transaction,
	// revokes the user's live refresh families of that client (denying
	// them and their access tokens), with ev; it returns how many families
	// it revoked. ErrNotFound when there is no grant (nothing is revoked).
	RevokeConsent(ctx context.Context, tenantID, userID, clientID string, now time.Time, ev Event) (int, error)
}
