package users

import (
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Nobody hands out more than they have. A Grantor is a user of a tenant
// who, through the console, gives others a role or creates a credential
// that acts for someone (an API key bound to a user or a client, a
// client): they may hand out only what their own roles grant. A super user
// may hand out anything, and only a super user may make someone super or
// hand out a super user's authority. The operator (the admin API and the
// CLI) is no Grantor: it stands above every tenant.
type Grantor struct {
	User   *store.User
	Scopes []string // what the grantor's roles grant now
	super  bool
}

// NewGrantor is u as a grantor, whose roles grant scopes now (Scopes).
func NewGrantor(u *store.User, scopes []string) *Grantor {
	return &Grantor{User: u, Scopes: scopes, super: slices.Contains(u.Roles, RoleSuper)}
}

// ErrBeyondGrantor refuses handing out more than the grantor has; its
// text says what.
type ErrBeyondGrantor struct{ What string }

func (e *ErrBeyondGrantor) Error() string {
	return "you cannot hand out " + e.What + ": it is more than your own roles grant"
}

// Forbidden is its behaviour (403).
func (e *ErrBeyondGrantor) Forbidden() bool { return true }

// MayGrantScopes checks that g holds every one of scopes.
func (g *Grantor) MayGrantScopes(scopes []string) error {
	if g.super {
		return nil
	}
	for _, sc := range scopes {
		if !slices.Contains(g.Scopes, sc) {
			return &ErrBeyondGrantor{What: fmt.Sprintf("the scope %q", sc)}
		}
	}
	return nil
}

// MayGrantRoles checks that g holds everything the roles of tenantID
// grant (and is super, for super).
func (s *Service) MayGrantRoles(ctx context.Context, g *Grantor, tenantID string, roles []string) error {
	if g.super {
		return nil
	}
	if slices.Contains(roles, RoleSuper) {
		return &ErrBeyondGrantor{What: "the super role"}
	}
	scopes, err := s.Scopes(ctx, &store.User{TenantID: tenantID, Roles: roles})
	if err != nil {
		return err
	}
	if err := g.MayGrantScopes(scopes); err != nil {
		return &ErrBeyondGrantor{What: fmt.Sprintf("the roles %v (%v)", roles, err.(*ErrBeyondGrantor).What)}
	}
	return nil
}

// MayActAs checks that g may create a credential acting as u: g holds
// everything u's roles grant (a super user's authority only a super may
// hand out).
func (s *Service) MayActAs(ctx context.Context, g *Grantor, u *store.User) error {
	if err := s.MayGrantRoles(ctx, g, u.TenantID, u.Roles); err != nil {
		return &ErrBeyondGrantor{What: "a credential acting as " + u.Email + ", whose roles grant more than yours"}
	}
	return nil
}
