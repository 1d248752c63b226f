package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/sdk/admin"
)

// readPassword reads a password from standard input (--password-stdin):
// everything up to EOF, less one trailing newline. A password is never a
// flag value, which would land in shell history and process listings.
func readPassword(c *adminCmd) (string, error) {
	if c.env.stdin == nil {
		return "", errors.New("--password-stdin: no standard input")
	}
	b, err := io.ReadAll(io.LimitReader(c.env.stdin, 4096))
	if err != nil {
		return "", fmt.Errorf("--password-stdin: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pw == "" {
		return "", errors.New("--password-stdin: standard input is empty")
	}
	return pw, nil
}

func userCreate(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	name := c.fs.String("name", "", "display name")
	apiEnabled := c.fs.Bool("api-enabled", false, "give the user API access")
	pwStdin := c.fs.Bool("password-stdin", false, "read the user's password from standard input")
	var roles listFlag
	c.fs.Var(&roles, "role", "role to assign (repeatable)")
	if err := c.parse(args); err != nil {
		return err
	}
	email, err := c.arg(0, "email")
	if err != nil {
		return err
	}
	in := admin.UserInput{Email: &email, Name: name, Roles: roles.ptr(), APIEnabled: apiEnabled}
	if *pwStdin {
		pw, err := readPassword(c)
		if err != nil {
			return err
		}
		in.Password = &pw
	}
	u, err := c.api().CreateUser(ctx, *tenant, in)
	if err != nil {
		return err
	}
	return c.print(u, func(w *tabwriter.Writer) { fmt.Fprintf(w, "created user %s (%s)\n", u.Email, u.ID) })
}

func userList(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	q := c.fs.String("q", "", "only users whose email or name starts with this (ignoring case)")
	if err := c.parse(args); err != nil {
		return err
	}
	all, err := everyPage(func(after string) (*admin.List[admin.User], error) {
		return c.api().ListUsers(ctx, *tenant, *q, after, 500)
	})
	if err != nil {
		return err
	}
	return c.print(all, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tEMAIL\tNAME\tROLES\tAPI\tLAST LOGIN")
		for _, u := range all {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, strings.Join(u.Roles, ","), apiString(&u), lastLogin(&u))
		}
	})
}

func apiString(u *admin.User) string {
	switch {
	case u.APIEnabled:
		return "enabled"
	case u.APIAccess:
		return "yes (role or group)"
	}
	return "no"
}

func lastLogin(u *admin.User) string {
	if u.LastLoginAt == nil {
		return "never"
	}
	return u.LastLoginAt.Format(time.RFC3339)
}

func printUser(w *tabwriter.Writer, u *admin.User) {
	fmt.Fprintf(w, "id:\t%s\nemail:\t%s\nname:\t%s\ntenant:\t%s\nroles:\t%s\napi access:\t%s\npassword set:\t%t\ngroups:\t%s\nlast login:\t%s\n",
		u.ID, u.Email, u.Name, u.Tenant, strings.Join(u.Roles, " "), apiString(u), u.HasPassword, strings.Join(u.Groups, " "), lastLogin(u))
}

// userByID runs a command on one user: --tenant and the user id.
func userByID(ctx context.Context, c *adminCmd, args []string, fn func(api *admin.API, tenant, id string) (any, func(*tabwriter.Writer), error)) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	if err := c.parse(args); err != nil {
		return err
	}
	id, err := c.arg(0, "user id")
	if err != nil {
		return err
	}
	v, human, err := fn(c.api(), *tenant, id)
	if err != nil {
		return err
	}
	return c.print(v, human)
}

func userGet(ctx context.Context, c *adminCmd, args []string) error {
	return userByID(ctx, c, args, func(api *admin.API, tenant, id string) (any, func(*tabwriter.Writer), error) {
		u, err := api.GetUser(ctx, tenant, id)
		return u, func(w *tabwriter.Writer) { printUser(w, u) }, err
	})
}

func userDelete(ctx context.Context, c *adminCmd, args []string) error {
	return userByID(ctx, c, args, func(api *admin.API, tenant, id string) (any, func(*tabwriter.Writer), error) {
		return map[string]string{"deleted": id}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deleted user %s\n", id) },
			api.DeleteUser(ctx, tenant, id)
	})
}

func userSetRoles(ctx context.Context, c *adminCmd, args []string) error {
	var roles listFlag
	c.fs.Var(&roles, "role", "role to hold (repeatable; the user's roles become exactly these; --role '' for none)")
	return userByID(ctx, c, args, func(api *admin.API, tenant, id string) (any, func(*tabwriter.Writer), error) {
		if !roles.set {
			return nil, nil, errors.New("set-roles: give the roles with --role (--role '' for none)")
		}
		u, err := api.UpdateUser(ctx, tenant, id, admin.UserInput{Roles: roles.ptr()})
		return u, func(w *tabwriter.Writer) { printUser(w, u) }, err
	})
}

// userAPIAccess turns API access on or off for every user id given, or
// for none when one is unknown.
func userAPIAccess(enabled bool) func(context.Context, *adminCmd, []string) error {
	return func(ctx context.Context, c *adminCmd, args []string) error {
		tenant := c.fs.String("tenant", "", "tenant name (required)")
		if err := c.parse(args); err != nil {
			return err
		}
		if len(c.args) == 0 {
			return errors.New("missing user id (give one or more)")
		}
		if err := c.api().SetAPIAccess(ctx, *tenant, c.args, enabled); err != nil {
			return err
		}
		verb := "disabled"
		if enabled {
			verb = "enabled"
		}
		return c.print(map[string]any{"user_ids": c.args, "api_enabled": enabled}, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "API access %s for %d user(s)\n", verb, len(c.args))
		})
	}
}

func groupCreate(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	apiEnabled := c.fs.Bool("api-enabled", false, "give every member API access")
	if err := c.parse(args); err != nil {
		return err
	}
	name, err := c.arg(0, "group name")
	if err != nil {
		return err
	}
	g, err := c.api().CreateGroup(ctx, *tenant, admin.GroupInput{Name: &name, APIEnabled: apiEnabled})
	if err != nil {
		return err
	}
	return c.print(g, func(w *tabwriter.Writer) { fmt.Fprintf(w, "created group %s (%s)\n", g.Name, g.ID) })
}

func groupList(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	if err := c.parse(args); err != nil {
		return err
	}
	all, err := everyPage(func(after string) (*admin.List[admin.Group], error) {
		return c.api().ListGroups(ctx, *tenant, after, 500)
	})
	if err != nil {
		return err
	}
	return c.print(all, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tNAME\tAPI\tCREATED")
		for _, g := range all {
			fmt.Fprintf(w, "%s\t%s\t%t\t%s\n", g.ID, g.Name, g.APIEnabled, g.CreatedAt.Format(time.RFC3339))
		}
	})
}

func groupDelete(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	if err := c.parse(args); err != nil {
		return err
	}
	id, err := c.arg(0, "group id")
	if err != nil {
		return err
	}
	if err := c.api().DeleteGroup(ctx, *tenant, id); err != nil {
		return err
	}
	return c.print(map[string]string{"deleted": id}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deleted group %s\n", id) })
}

// groupMember puts a user in a group, or takes them out.
func groupMember(add bool) func(context.Context, *adminCmd, []string) error {
	return func(ctx context.Context, c *adminCmd, args []string) error {
		tenant := c.fs.String("tenant", "", "tenant name (required)")
		if err := c.parse(args); err != nil {
			return err
		}
		group, err := c.arg(0, "group id")
		if err != nil {
			return err
		}
		user, err := c.arg(1, "user id")
		if err != nil {
			return err
		}
		call, verb := c.api().AddGroupMember, "added %s to group %s\n"
		if !add {
			call, verb = c.api().RemoveGroupMember, "removed %s from group %s\n"
		}
		if err := call(ctx, *tenant, group, user); err != nil {
			return err
		}
		return c.print(map[string]any{"group": group, "user": user, "member": add}, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, verb, user, group)
		})
	}
}
