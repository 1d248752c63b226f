package users

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/audit"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/problem"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tenants"
)

// Errors. ErrNotFound and ErrLastSuper are the store's, so errors.Is
// holds whichever layer returned them.
var (
	// ErrBadCredentials is every Login failure: unknown email, wrong
	// password, no password set.
	ErrBadCredentials = problem.New(problem.KindUnauthenticated, "users: bad credentials", "the email or password is not right")
	ErrNotFound       = store.ErrNotFound
	// ErrLastSuper refuses removing super from (or deleting) a tenant's
	// last super user.
	ErrLastSuper = store.ErrLastSuper
	// ErrRoleInUse refuses deleting a tenant role some user holds.
	ErrRoleInUse = problem.New(problem.KindConflict, "users: the role is assigned to users",
		"the role is assigned to users: take it from them first")
	// ErrEmailTaken: emails are unique per tenant, ignoring case; it is a
	// store.ErrConflict.
	ErrEmailTaken error = emailTaken{problem.New(problem.KindConflict, "users: email taken",
		"a user with that email exists in the tenant (emails ignore case)")}
)

type emailTaken struct{ problem.Sentinel }

func (emailTaken) Is(target error) bool { return target == store.ErrConflict }

// InvalidError lists what is wrong with a user, group or role
// (problem.Invalid, every domain's validation error).
type InvalidError = problem.Invalid

func invalid(kind string, bad []string) error { return problem.NewInvalid(kind, bad) }

// Password bounds: NIST SP 800-63B §3.1.1.2 asks for at least 8
// characters and room for 64; we ask for 12 and cap the input at 1 KiB.
const (
	MinPassword   = 12 // characters
	MaxPassword   = 1024
	MaxEmail      = 254 // RFC 5321 §4.5.3.1.3 path limit less the brackets
	maxNameLength = 200
	// MaxBulk caps the ids one bulk change may list.
	MaxBulk = 1000
)

// Service manages users, groups and roles.
type Service struct {
	Store store.Users
	// Families, when set, ends a deleted user's refresh families.
	Families interface {
		RevokeFamilies(ctx context.Context, f store.FamilyFilter, now time.Time, ev store.Event) (int, error)
	}
	Now func() time.Time
	Log *slog.Logger
	// Params are the argon2id costs of new hashes; zero means
	// secret.DefaultPasswordParams(). Verification reads each hash's own.
	Params secret.PasswordParams

	dummyOnce sync.Once
	dummy     string
}

func (s *Service) params() secret.PasswordParams {
	if s.Params == (secret.PasswordParams{}) {
		return secret.DefaultPasswordParams()
	}
	return s.Params
}

// dummyVerify spends the time a real verification would, so that the
// answer for an unknown email (or a user without a password) takes as
// long as for a wrong password.
func (s *Service) dummyVerify(password string) {
	s.dummyOnce.Do(func() { s.dummy = secret.HashPassword("gatehouse dummy password", s.params()) })
	secret.VerifyPassword(s.dummy, password) //nolint:errcheck // the outcome is discarded
}

// Login checks an email and password in a tenant; ErrBadCredentials for any
// failure (unknown email, wrong password, no password set). On success it
// records last_login_at; the caller logs the login to the activity log.
func (s *Service) Login(ctx context.Context, tenantID, email, password string) (*store.User, error) {
	if len(password) > MaxPassword || len(email) > MaxEmail {
		return nil, ErrBadCredentials // decided on the input alone: says nothing about who exists
	}
	u, err := s.Store.GetUserByEmail(ctx, tenantID, email)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.PasswordHash == "") {
		s.dummyVerify(password)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, err := secret.VerifyPassword(u.PasswordHash, password)
	if err != nil {
		s.Log.Error("stored password hash is malformed", "user", u.ID, "tenant", tenantID)
		return nil, ErrBadCredentials
	}
	if !ok {
		return nil, ErrBadCredentials
	}
	u.LastLoginAt = s.Now().UTC()
	if err := s.Store.RecordLogin(ctx, u.ID, u.LastLoginAt); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrBadCredentials // deleted meanwhile
		}
		return nil, err
	}
	return u, nil
}

// Get returns a user of the tenant (with its group ids); ErrNotFound for
// an unknown id or another tenant's user.
func (s *Service) Get(ctx context.Context, tenantID, userID string) (*store.User, error) {
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.TenantID != tenantID {
		return nil, ErrNotFound
	}
	return u, nil
}

// GetByEmail returns the tenant's user with that login, compared without
// regard to case; ErrNotFound when there is none.
func (s *Service) GetByEmail(ctx context.Context, tenantID, email string) (*store.User, error) {
	return s.Store.GetUserByEmail(ctx, tenantID, email)
}

// HasAPIAccess: super, or api_enabled on the user, or on any group they
// belong to (read now, not from u.Groups, so a group change is seen at once).
func (s *Service) HasAPIAccess(ctx context.Context, u *store.User) (bool, error) {
	if u.APIEnabled || slices.Contains(u.Roles, RoleSuper) {
		return true, nil
	}
	groups, err := s.Store.ListUserGroups(ctx, u.ID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(groups, func(g store.Group) bool { return g.APIEnabled }), nil
}

// ValidEmail reports whether e is a bare address (no display name) that
// net/mail accepts, at most MaxEmail bytes, with an ASCII local part: the
// part before "@" is what sign-in and identity providers match, ASCII
// case folded only (store.EmailKey), and a non-ASCII one could be a
// look-alike of another user's.
func ValidEmail(e string) bool {
	if e == "" || len(e) > MaxEmail || !protocol.Printable(e) {
		return false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return false
	}
	local := e[:strings.LastIndexByte(e, '@')]
	for i := 0; i < len(local); i++ {
		if local[i] >= 0x80 {
			return false
		}
	}
	return true
}

func passwordProblems(pw string) []string {
	if utf8.RuneCountInString(pw) < MinPassword || len(pw) > MaxPassword {
		return []string{fmt.Sprintf("password must be at least %d characters and at most %d bytes", MinPassword, MaxPassword)}
	}
	return nil
}

// Patch is a change to a user; nil fields are left as they are. A Password
// of "" removes the password (the user can no longer log in).
type Patch struct {
	Email      *string
	Name       *string
	Password   *string
	Roles      *[]string
	APIEnabled *bool
	// ReadLimit and WriteLimit set the user's own gateway budgets; a zero
	// Quota inherits the tenant's.
	ReadLimit, WriteLimit *store.Quota
}

// prepared is a checked Patch with its password hashed: argon2id runs
// before the store transaction, never inside it.
type prepared struct {
	*Patch
	hash *string
}

// prepare lists every problem with p at once (creating: the email is
// required) and hashes the new password.
func (s *Service) prepare(ctx context.Context, tenantID string, p *Patch, creating bool) (*prepared, error) {
	var bad []string
	if (creating || p.Email != nil) && (p.Email == nil || !ValidEmail(*p.Email)) {
		bad = append(bad, fmt.Sprintf("email must be an address like name@example.com, at most %d bytes, its part before @ in ASCII", MaxEmail))
	}
	if p.Name != nil && (len(*p.Name) > maxNameLength || !protocol.Printable(*p.Name)) {
		bad = append(bad, fmt.Sprintf("name must be printable text of at most %d bytes", maxNameLength))
	}
	if p.Password != nil && *p.Password != "" {
		bad = append(bad, passwordProblems(*p.Password)...)
	}
	limits := store.RateLimits{}
	if p.ReadLimit != nil {
		limits.Read = *p.ReadLimit
	}
	if p.WriteLimit != nil {
		limits.Write = *p.WriteLimit
	}
	bad = append(bad, tenants.RateLimitProblems(limits)...)
	if p.Roles != nil {
		rb, err := s.checkRoles(ctx, tenantID, *p.Roles)
		if err != nil {
			return nil, err
		}
		bad = append(bad, rb...)
	}
	if err := invalid("user", bad); err != nil {
		return nil, err
	}
	out := &prepared{Patch: p}
	if p.Password != nil {
		h := ""
		if *p.Password != "" {
			h = secret.HashPassword(*p.Password, s.params())
		}
		out.hash = &h
	}
	return out, nil
}

func (p *prepared) apply(u *store.User) {
	if p.Email != nil {
		u.Email = *p.Email
	}
	if p.Name != nil {
		u.Name = *p.Name
	}
	if p.Roles != nil {
		u.Roles = slices.Clone(*p.Roles)
	}
	if p.APIEnabled != nil {
		u.APIEnabled = *p.APIEnabled
	}
	if p.ReadLimit != nil {
		u.RateLimits.Read = *p.ReadLimit
	}
	if p.WriteLimit != nil {
		u.RateLimits.Write = *p.WriteLimit
	}
	if p.hash != nil {
		u.PasswordHash = *p.hash
	}
}

// Create validates and stores a new user; p says what to set (Email is
// required, the rest optional).
func (s *Service) Create(ctx context.Context, tenantID string, p *Patch, ev store.Event) (*store.User, error) {
	pp, err := s.prepare(ctx, tenantID, p, true)
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	u := &store.User{ID: secret.NewID("usr"), TenantID: tenantID, Roles: []string{}, CreatedAt: now, UpdatedAt: now}
	pp.apply(u)
	ev.Target = u.ID
	if err := s.Store.CreateUser(ctx, u, ev); err != nil {
		return nil, s.emailTaken(err)
	}
	u.Groups = []string{}
	return u, nil
}

// emailTaken turns the store's uniqueness conflict into a clear one.
func (s *Service) emailTaken(err error) error {
	if isConflict(err) {
		return ErrEmailTaken
	}
	return err
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

// Update applies p to a user of the tenant in one store transaction.
// Removing super from the last holder is ErrLastSuper.
func (s *Service) Update(ctx context.Context, tenantID, id string, p *Patch, ev store.Event) (*store.User, error) {
	pp, err := s.prepare(ctx, tenantID, p, false)
	if err != nil {
		return nil, err
	}
	ev.Target = id
	had, err := s.accessOf(ctx, tenantID, []string{id})
	if err != nil {
		return nil, err
	}
	u, err := s.Store.UpdateUser(ctx, id, func(u *store.User) error {
		if u.TenantID != tenantID {
			return ErrNotFound
		}
		pp.apply(u)
		u.UpdatedAt = s.Now().UTC()
		return nil
	}, ev)
	if err != nil {
		return nil, s.emailTaken(err)
	}
	return u, s.endLostAccess(ctx, tenantID, had, ev)
}

// Delete removes a user of the tenant; ErrLastSuper for the last super.
func (s *Service) Delete(ctx context.Context, tenantID, id string, ev store.Event) error {
	if _, err := s.Get(ctx, tenantID, id); err != nil {
		return err
	}
	ev.Target = id
	if err := s.Store.DeleteUser(ctx, id, ev); err != nil {
		return err
	}
	// The user's authorizations end with them: their refresh families are
	// revoked and the families' live access tokens denied. (Every grant and
	// the gateway also check that the user exists, so this is tidiness,
	// not the only line of defence.)
	if s.Families == nil {
		return nil
	}
	rev := ev
	rev.Action, rev.Target = audit.OAuthFamilyRevoke, id
	_, err := s.Families.RevokeFamilies(ctx, store.FamilyFilter{TenantID: tenantID, UserID: id}, s.Now(), rev)
	return err
}

// List returns a page of the tenant's users; prefix (any case) keeps those
// whose email or name starts with it.
func (s *Service) List(ctx context.Context, tenantID, prefix string, page store.Page) ([]store.User, error) {
	return s.Store.ListUsers(ctx, tenantID, store.UserQuery{Page: page, Prefix: strings.ToLower(prefix)})
}

// SetAPIEnabled turns api_enabled on or off for every listed user of the
// tenant, all or nothing: an unknown id is a *store.NotFoundError naming it.
// A super user keeps API access whatever the flag says.
func (s *Service) SetAPIEnabled(ctx context.Context, tenantID string, ids []string, enabled bool, ev store.Event) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 || len(ids) > MaxBulk {
		return invalid("user", []string{fmt.Sprintf("user_ids: 1 to %d user ids", MaxBulk)})
	}
	ev.Detail = map[string]any{"enabled": enabled, "count": len(ids)}
	var had map[string]bool
	if !enabled {
		var err error
		if had, err = s.accessOf(ctx, tenantID, ids); err != nil {
			return err
		}
	}
	if err := s.Store.SetUsersAPIEnabled(ctx, tenantID, ids, enabled, ev); err != nil {
		return err
	}
	return s.endLostAccess(ctx, tenantID, had, ev)
}

func hasDuplicates(list []string) bool {
	seen := map[string]bool{}
	for _, v := range list {
		if seen[v] {
			return true
		}
		seen[v] = true
	}
	return false
}
