package users

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

// GroupPatch is a change to a group; nil fields are left as they are.
type GroupPatch struct {
	Name       *string
	APIEnabled *bool
}

func (p *GroupPatch) apply(g *store.Group) error {
	if p.Name != nil {
		g.Name = *p.Name
	}
	if p.APIEnabled != nil {
		g.APIEnabled = *p.APIEnabled
	}
	// Group names follow tenant names: they may appear in URLs and claims.
	if !tenants.ValidName(g.Name) {
		return invalid("group", []string{"name must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"})
	}
	return nil
}

// CreateGroup validates and stores a group; ErrConflict when the name is
// taken in the tenant.
func (s *Service) CreateGroup(ctx context.Context, tenantID string, p *GroupPatch, ev store.Event) (*store.Group, error) {
	now := s.Now().UTC()
	g := &store.Group{ID: secret.NewID("grp"), TenantID: tenantID, CreatedAt: now, UpdatedAt: now}
	if err := p.apply(g); err != nil {
		return nil, err
	}
	ev.Target = g.ID
	return g, s.Store.CreateGroup(ctx, g, ev)
}

// GetGroup returns a group of the tenant; ErrNotFound otherwise.
func (s *Service) GetGroup(ctx context.Context, tenantID, id string) (*store.Group, error) {
	g, err := s.Store.GetGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	if g.TenantID != tenantID {
		return nil, ErrNotFound
	}
	return g, nil
}

// UpdateGroup applies p to a group of the tenant in one transaction.
func (s *Service) UpdateGroup(ctx context.Context, tenantID, id string, p *GroupPatch, ev store.Event) (*store.Group, error) {
	ev.Target = id
	var had map[string]bool
	if p.APIEnabled != nil && !*p.APIEnabled {
		if _, err := s.GetGroup(ctx, tenantID, id); err != nil {
			return nil, err
		}
		var err error
		if had, err = s.groupAccess(ctx, tenantID, id); err != nil {
			return nil, err
		}
	}
	g, err := s.Store.UpdateGroup(ctx, id, func(g *store.Group) error {
		if g.TenantID != tenantID {
			return ErrNotFound
		}
		g.UpdatedAt = s.Now().UTC()
		return p.apply(g)
	}, ev)
	if err != nil {
		return nil, err
	}
	return g, s.endLostAccess(ctx, tenantID, had, ev)
}

// DeleteGroup removes a group of the tenant and its memberships.
func (s *Service) DeleteGroup(ctx context.Context, tenantID, id string, ev store.Event) error {
	if _, err := s.GetGroup(ctx, tenantID, id); err != nil {
		return err
	}
	had, err := s.groupAccess(ctx, tenantID, id)
	if err != nil {
		return err
	}
	ev.Target = id
	if err := s.Store.DeleteGroup(ctx, id, ev); err != nil {
		return err
	}
	return s.endLostAccess(ctx, tenantID, had, ev)
}

// AddMember puts a user of the tenant in one of its groups (idempotent).
func (s *Service) AddMember(ctx context.Context, tenantID, groupID, userID string, ev store.Event) error {
	if _, err := s.GetGroup(ctx, tenantID, groupID); err != nil {
		return err
	}
	ev.Target, ev.Detail = groupID, map[string]any{"user_id": userID}
	return s.Store.AddGroupMember(ctx, groupID, userID, ev)
}

// RemoveMember takes a user out of a group; ErrNotFound when not a member.
func (s *Service) RemoveMember(ctx context.Context, tenantID, groupID, userID string, ev store.Event) error {
	if _, err := s.GetGroup(ctx, tenantID, groupID); err != nil {
		return err
	}
	had, err := s.accessOf(ctx, tenantID, []string{userID})
	if err != nil {
		return err
	}
	ev.Target, ev.Detail = groupID, map[string]any{"user_id": userID}
	if err := s.Store.RemoveGroupMember(ctx, groupID, userID, ev); err != nil {
		return err
	}
	return s.endLostAccess(ctx, tenantID, had, ev)
}
