package users

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/store"
)

// RoleSuper always has API access, and a tenant keeps at least one holder.
const RoleSuper = store.RoleSuper

// presets maps each preset role to the scopes it grants. super holds every
// scope any preset grants; the others narrow down from the company to a
// program to a group. See docs/operations.md, "Users, groups and roles".
var presets = map[string][]string{
	RoleSuper: {"company:read", "company:write", "users:read", "users:write", "groups:read", "groups:write",
		"programs:read", "programs:write", "submissions:read", "submissions:write"},
	// Runs the company account and its people; reads every program and
	// submission, changes them through a program role.
	"company_admin": {"company:read", "company:write", "users:read", "users:write", "groups:read", "groups:write",
		"programs:read", "submissions:read"},
	// Runs programs: their settings and submissions, seeing who is who.
	"program_admin":  {"programs:read", "programs:write", "submissions:read", "submissions:write", "users:read", "groups:read"},
	"program_editor": {"programs:read", "programs:write", "submissions:read", "submissions:write"},
	"program_member": {"programs:read", "submissions:read"},
	"group_admin":    {"groups:read", "groups:write", "users:read"},
	"group_member":   {"groups:read"},
}

// presetOrder lists the presets from the widest down.
var presetOrder = []string{RoleSuper, "company_admin", "program_admin", "program_editor", "program_member", "group_admin", "group_member"}

// Preset returns the scopes of a preset role.
func Preset(name string) ([]string, bool) {
	s, ok := presets[name]
	return slices.Clone(s), ok
}

// IsPreset reports whether name is a preset role's.
func IsPreset(name string) bool { _, ok := presets[name]; return ok }

// RoleInfo describes a role a tenant can assign.
type RoleInfo struct {
	Name   string
	Scopes []string
	Preset bool
}

var roleName = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)

// Limits on roles.
const (
	MaxRoles       = 50 // per user
	MaxRoleScopes  = 100
	MaxTenantRoles = 200
)

// ValidateRole checks a tenant-defined role.
func ValidateRole(r *store.Role) error {
	var bad []string
	switch {
	case !roleName.MatchString(r.Name):
		bad = append(bad, "name must be 1-63 characters of lower-case letters, digits, '.', '_' or '-', starting with a letter")
	case IsPreset(r.Name):
		bad = append(bad, fmt.Sprintf("name %q is a preset role's", r.Name))
	}
	if len(r.Scopes) == 0 || len(r.Scopes) > MaxRoleScopes {
		bad = append(bad, fmt.Sprintf("scopes: 1 to %d scope tokens", MaxRoleScopes))
	}
	for _, s := range r.Scopes {
		if !credential.ValidScope(s) {
			bad = append(bad, fmt.Sprintf("scope %q is not a valid scope token (RFC 6749 §3.3)", s))
		}
	}
	if hasDuplicates(r.Scopes) {
		bad = append(bad, "scopes has duplicates")
	}
	return invalid("role", bad)
}

// Roles lists the roles a tenant can assign: the presets, then its own.
func (s *Service) Roles(ctx context.Context, tenantID string) ([]RoleInfo, error) {
	own, err := s.Store.ListRoles(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]RoleInfo, 0, len(presetOrder)+len(own))
	for _, name := range presetOrder {
		out = append(out, RoleInfo{Name: name, Scopes: slices.Clone(presets[name]), Preset: true})
	}
	for _, r := range own {
		out = append(out, RoleInfo{Name: r.Name, Scopes: r.Scopes})
	}
	return out, nil
}

// CreateRole validates and stores a tenant-defined role.
func (s *Service) CreateRole(ctx context.Context, r *store.Role, ev store.Event) error {
	if err := ValidateRole(r); err != nil {
		return err
	}
	own, err := s.Store.ListRoles(ctx, r.TenantID)
	if err != nil {
		return err
	}
	if len(own) >= MaxTenantRoles {
		return invalid("role", []string{fmt.Sprintf("a tenant defines at most %d roles", MaxTenantRoles)})
	}
	ev.Target = r.Name
	return s.Store.CreateRole(ctx, r, ev)
}

// DeleteRole removes a tenant-defined role; ErrRoleInUse while a user
// holds it, ErrNotFound for a preset or an unknown name.
func (s *Service) DeleteRole(ctx context.Context, tenantID, name string, ev store.Event) error {
	if IsPreset(name) || !roleName.MatchString(name) {
		return ErrNotFound
	}
	ev.Target = name
	err := s.Store.DeleteRole(ctx, tenantID, name, ev)
	if isConflict(err) {
		return ErrRoleInUse
	}
	return err
}

// checkRoles lists problems with a user's role names: each must be a
// preset or one of the tenant's roles, once.
func (s *Service) checkRoles(ctx context.Context, tenantID string, roles []string) ([]string, error) {
	var bad []string
	if len(roles) > MaxRoles {
		bad = append(bad, fmt.Sprintf("roles: at most %d", MaxRoles))
	}
	if hasDuplicates(roles) {
		bad = append(bad, "roles has duplicates")
	}
	var own []store.Role
	for _, r := range roles {
		if IsPreset(r) {
			continue
		}
		if own == nil {
			var err error
			if own, err = s.Store.ListRoles(ctx, tenantID); err != nil {
				return nil, err
			}
		}
		if !slices.ContainsFunc(own, func(o store.Role) bool { return o.Name == r }) {
			bad = append(bad, fmt.Sprintf("role %q is neither a preset nor one of the tenant's roles", r))
		}
	}
	return bad, nil
}

// Scopes is the union of the scopes the user's roles grant, sorted. A role
// name the tenant no longer defines grants nothing.
func (s *Service) Scopes(ctx context.Context, u *store.User) ([]string, error) {
	var out []string
	var own []store.Role
	loaded := false
	for _, r := range u.Roles {
		if p, ok := presets[r]; ok {
			out = append(out, p...)
			continue
		}
		if !loaded {
			var err error
			if own, err = s.Store.ListRoles(ctx, u.TenantID); err != nil {
				return nil, err
			}
			loaded = true
		}
		for _, o := range own {
			if o.Name == r {
				out = append(out, o.Scopes...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
