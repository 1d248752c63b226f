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

// A user-based integration in a one-integration tenant, from the CLI.
func TestAdminCLIIntegrations(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	env := func(k string) string {
		return map[string]string{"GATEHOUSE_ADMIN_URL": s.AdminURL(), "GATEHOUSE_ADMIN_TOKEN": s.AdminToken}[k]
	}
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := run(context.Background(), args, &out, &errOut, env)
		return c, out.String(), errOut.String()
	}
	if c, out, errs := cli("tenant", "create", "solo", "--one-active-integration"); c != 0 {
		t.Fatalf("tenant create: %d %s %s", c, out, errs)
	}
	if c, out, errs := cli("tenant", "get", "solo"); c != 0 || !regexp.MustCompile(`policy:\s+one active integration`).MatchString(out) {
		t.Fatalf("tenant get: %d %s %s", c, out, errs)
	}
	c, out, errs := cli("user", "create", "--tenant", "solo", "ada@solo.example", "--json")
	var u admin.User
	if c != 0 || json.Unmarshal([]byte(out), &u) != nil {
		t.Fatalf("user create: %d %s %s", c, out, errs)
	}
	integration := []string{"client", "create", "--tenant", "solo", "--name", "sync", "--grant", "authorization_code",
		"--redirect-uri", "https://app.example/cb", "--owner", u.ID, "--json"}
	c, out, errs = cli(integration...)
	var cl admin.Client
	if c != 0 || json.Unmarshal([]byte(out), &cl) != nil || cl.OwnerUserID != u.ID {
		t.Fatalf("client create --owner: %d %s %s", c, out, errs)
	}
	if c, out, errs := cli("client", "get", "--tenant", "solo", cl.ClientID); c != 0 || !regexp.MustCompile(`owner:\s+`+u.ID).MatchString(out) {
		t.Fatalf("client get: %d %s %s", c, out, errs)
	}
	if c, _, errs := cli(integration...); c != 1 || !strings.Contains(errs, "delete the existing one ("+cl.ClientID+") first") {
		t.Fatalf("second integration: %d %s", c, errs)
	}
	if c, _, errs := cli("client", "create", "--tenant", "solo", "--name", "x", "--owner", "usr_nobody"); c != 1 || !strings.Contains(errs, "owner_user_id") {
		t.Fatalf("unknown owner: %d %s", c, errs)
	}
}
