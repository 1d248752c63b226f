package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

func TestUserCLI(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	env := func(k string) string {
		return map[string]string{"GATEHOUSE_ADMIN_URL": s.AdminURL(), "GATEHOUSE_ADMIN_TOKEN": s.AdminToken}[k]
	}
	cli := func(stdin string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		e := &cmdEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: env}
		err := adminCommand(context.Background(), e, args[0], args[1:])
		if err != nil {
			errOut.WriteString(err.Error())
			return 1, out.String(), errOut.String()
		}
		return 0, out.String(), errOut.String()
	}
	if c, _, errs := cli("", "tenant", "create", "acme"); c != 0 {
		t.Fatal(errs)
	}
	c, out, errs := cli("correct horse battery\n", "user", "create", "--tenant", "acme", "ada@example.com", "--name", "Ada",
		"--role", "super", "--password-stdin", "--json")
	var ada admin.User
	if c != 0 || json.Unmarshal([]byte(out), &ada) != nil || !ada.HasPassword || ada.Roles[0] != "super" || strings.Contains(out, "horse") {
		t.Fatalf("user create: %d %s %s", c, out, errs)
	}
	c, out, _ = cli("", "user", "create", "--tenant", "acme", "bob@example.com", "--role", "program_member", "--json")
	var bob admin.User
	if c != 0 || json.Unmarshal([]byte(out), &bob) != nil || bob.HasPassword || bob.APIAccess {
		t.Fatalf("user create bob: %d %s", c, out)
	}
	if c, _, errs := cli("", "user", "create", "--tenant", "acme", "c@example.com", "--password-stdin"); c != 1 || !strings.Contains(errs, "standard input is empty") {
		t.Fatalf("empty stdin: %d %s", c, errs)
	}
	// A password is never a flag value.
	if c, _, errs := cli("", "user", "create", "--tenant", "acme", "c@example.com", "--password", "x"); c != 1 || !strings.Contains(errs, "-password") {
		t.Fatalf("--password must not exist: %d %s", c, errs)
	}
	if c, out, errs := cli("", "user", "enable-api", "--tenant", "acme", bob.ID, ada.ID); c != 0 || !strings.Contains(out, "enabled for 2 user(s)") {
		t.Fatalf("enable-api: %d %s %s", c, out, errs)
	}
	if c, _, errs := cli("", "user", "disable-api", "--tenant", "acme", bob.ID, "usr_missing"); c != 1 || !strings.Contains(errs, "usr_missing") {
		t.Fatalf("disable-api with an unknown id: %d %s", c, errs)
	}
	if c, out, _ := cli("", "user", "get", "--tenant", "acme", bob.ID); c != 0 || !regexp.MustCompile(`api access:\s+enabled`).MatchString(out) {
		t.Fatalf("the refused bulk change applied: %d %s", c, out)
	}
	if c, out, errs := cli("", "user", "set-roles", "--tenant", "acme", bob.ID, "--role", "program_editor,group_member"); c != 0 ||
		!regexp.MustCompile(`roles:\s+program_editor group_member`).MatchString(out) {
		t.Fatalf("set-roles: %d %s %s", c, out, errs)
	}
	if c, _, errs := cli("", "user", "set-roles", "--tenant", "acme", ada.ID, "--role", ""); c != 1 || !strings.Contains(errs, "last super") {
		t.Fatalf("last super: %d %s", c, errs)
	}
	c, out, _ = cli("", "group", "create", "--tenant", "acme", "integrators", "--api-enabled", "--json")
	var g admin.Group
	if c != 0 || json.Unmarshal([]byte(out), &g) != nil || !g.APIEnabled {
		t.Fatalf("group create: %d %s", c, out)
	}
	if c, out, _ := cli("", "group", "add-member", "--tenant", "acme", g.ID, bob.ID); c != 0 || !strings.Contains(out, "added") {
		t.Fatalf("add-member: %d %s", c, out)
	}
	if c, out, _ := cli("", "user", "list", "--tenant", "acme", "--q", "BOB"); c != 0 || !strings.Contains(out, bob.ID) || strings.Contains(out, ada.ID) {
		t.Fatalf("user list: %d %s", c, out)
	}
	if c, out, _ := cli("", "group", "list", "--tenant", "acme"); c != 0 || !strings.Contains(out, "integrators") {
		t.Fatalf("group list: %d %s", c, out)
	}
	if c, _, _ := cli("", "group", "remove-member", "--tenant", "acme", g.ID, bob.ID); c != 0 {
		t.Fatal("remove-member failed")
	}
	if c, _, _ := cli("", "group", "delete", "--tenant", "acme", g.ID); c != 0 {
		t.Fatal("group delete failed")
	}
	if c, out, _ := cli("", "user", "delete", "--tenant", "acme", bob.ID); c != 0 || !strings.Contains(out, "deleted user") {
		t.Fatalf("user delete: %d %s", c, out)
	}
	if c, out, _ := cli("", "audit", "--tenant", "acme", "--action", "user.", "--limit", "100"); c != 0 || strings.Count(out, "user.") != 6 {
		t.Fatalf("audit: %d %s", c, out)
	}
}
