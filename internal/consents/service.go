package consents

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Store is what the service needs persisted.
type Store interface {
	store.ConsentGrants
	GetClient(ctx context.Context, id string) (*store.Client, error)
}

// Service records, checks, lists and withdraws users' consents.
type Service struct {
	// Store should be the watched store (authn.Watch), so that a
	// withdrawal that ends sessions is refused on this replica at once.
	Store Store
	Now   func() time.Time
}

// Covers reports whether g approved every one of scopes. A request for
// gatehouse:tokens is never covered: a token that can mint the user's
// own credentials is handed out only while the user reads the consent
// page's warning, however often they approved it before.
func Covers(g *store.ConsentGrant, scopes []string) bool {
	if g == nil {
		return false
	}
	for _, sc := range scopes {
		if sc == credential.ScopeTokens || !slices.Contains(g.Scopes, sc) {
			return false
		}
	}
	return true
}

// Remembered reports whether the user's recorded consent for the client
// covers scopes, which should be what the authorization would grant (the
// request as far as the user's roles allow it).
func (s *Service) Remembered(ctx context.Context, tenantID, userID, clientID string, scopes []string) (bool, error) {
	if slices.Contains(scopes, credential.ScopeTokens) {
		return false, nil // never covered: no need to look
	}
	g, err := s.Store.GetConsent(ctx, tenantID, userID, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return Covers(g, scopes), nil
}

// Record remembers that the user approved scopes for the client, on top
// of what they approved before, with ev (its Target set to the client).
// gatehouse:tokens is left out: Covers never counts it, and a grant that
// listed it would say it is remembered.
func (s *Service) Record(ctx context.Context, tenantID, userID, clientID string, scopes []string, ev store.Event) error {
	now := s.Now().UTC().Truncate(time.Microsecond)
	g := &store.ConsentGrant{TenantID: tenantID, UserID: userID, ClientID: clientID, CreatedAt: now, UpdatedAt: now,
		Scopes: slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return sc == credential.ScopeTokens })}
	ev.Target = clientID
	return s.Store.GrantConsent(ctx, g, ev)
}

// Grant is a consent as listings show it, with its client's name.
type Grant struct {
	store.ConsentGrant
	ClientName string
}

// List returns a user's consents, most recently given first.
func (s *Service) List(ctx context.Context, tenantID, userID string) ([]Grant, error) {
	gs, err := s.Store.ListConsents(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Grant, 0, len(gs))
	for _, g := range gs {
		c, err := s.Store.GetClient(ctx, g.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the listing: its grants went with it
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Grant{ConsentGrant: g, ClientName: c.Name})
	}
	return out, nil
}

// Revoke withdraws the user's consent for the client and ends the
// client's sessions for the user (refresh tokens and the access tokens
// minted from them), with ev (its Target set to the client, the user
// named in its detail). It returns how many sessions ended; a
// *store.NotFoundError (ErrNotFound) when there was no consent.
func (s *Service) Revoke(ctx context.Context, tenantID, userID, clientID string, ev store.Event) (int, error) {
	ev.Target = clientID
	ev.Detail = maps.Clone(ev.Detail) // the caller's map stays theirs
	if ev.Detail == nil {
		ev.Detail = map[string]any{}
	}
	ev.Detail["user"] = userID
	return s.Store.RevokeConsent(ctx, tenantID, userID, clientID, s.Now().UTC(), ev)
}
