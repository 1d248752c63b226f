package users

import (
	"context"
	"errors"
	"github.com/gatehouse/gatehouse/internal/audit"

	"github.com/gatehouse/gatehouse/internal/store"
)

// A user who loses API access (api_enabled off, super taken away, a group
// turned off or left) has every refresh family they hold ended at once:
// their integrations' refresh tokens and their API-key sessions, with the
// families' access tokens denied. Their credentials are refused meanwhile
// by the authorization model in any case (authn reads the user's access on
// every request); ending the families means that giving access back does
// not bring old authorizations back to life. Personal access tokens and
// API keys, which the user or an administrator manage by hand, are only
// suspended: they work again when access is given back.

// accessOf reports which of the users (by id) have API access now.
func (s *Service) accessOf(ctx context.Context, tenantID string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		u, err := s.Get(ctx, tenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ok, err := s.HasAPIAccess(ctx, u)
		if err != nil {
			return nil, err
		}
		out[id] = ok
	}
	return out, nil
}

// endLostAccess ends the refresh families of the users who had API access
// before (had) and have none now; ev describes the change that took it.
func (s *Service) endLostAccess(ctx context.Context, tenantID string, had map[string]bool, ev store.Event) error {
	if s.Families == nil {
		return nil
	}
	ids := make([]string, 0, len(had))
	for id, ok := range had {
		if ok {
			ids = append(ids, id)
		}
	}
	now, err := s.accessOf(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if now[id] {
			continue
		}
		rev := ev
		rev.Action, rev.Target = audit.OAuthFamilyRevoke, id
		rev.Detail = map[string]any{"reason": "the user lost API access"}
		if _, err := s.Families.RevokeFamilies(ctx, store.FamilyFilter{TenantID: tenantID, UserID: id}, s.Now(), rev); err != nil {
			return err
		}
	}
	return nil
}

// members lists the ids of a group's users.
func (s *Service) members(ctx context.Context, groupID string) ([]string, error) {
	var ids []string
	page := store.Page{Limit: 500}
	for {
		us, err := s.Store.ListGroupMembers(ctx, groupID, page)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		if len(us) < page.Limit {
			return ids, nil
		}
		page.After = us[len(us)-1].ID
	}
}

// groupAccess is accessOf for a group's members.
func (s *Service) groupAccess(ctx context.Context, tenantID, groupID string) (map[string]bool, error) {
	ids, err := s.members(ctx, groupID)
	if err != nil {
		return nil, err
	}
	return s.accessOf(ctx, tenantID, ids)
}
