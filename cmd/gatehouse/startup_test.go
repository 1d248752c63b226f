package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// A server that cannot start says why in one line, names the database
// (without its password) and exits 1: no panic, and a busy port does not
// hide a bad setting.
func TestServeFailsCleanly(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	env := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return map[string]string{"GATEHOUSE_MASTER_KEY": secret.NewMasterKey(), "GATEHOUSE_ADMIN_TOKEN": secret.New(secret.AdminToken)}[k]
		}
	}
	base := []string{"serve", "--issuer", "https://gatehouse.test", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string // in the one line
		not  string   // never in it
	}{
		{"refused port", []string{"--db", "postgres://gatehouse:s3cret-pw@127.0.0.1:1/gatehouse?connect_timeout=2"}, nil,
			[]string{"open the database postgres://gatehouse:xxxxx@127.0.0.1:1/gatehouse", "refused"}, "s3cret-pw"},
		{"unresolvable host", []string{"--db", "postgres://gatehouse:s3cret-pw@no-such-host.invalid/gatehouse?connect_timeout=2"}, nil,
			[]string{"open the database", "no-such-host.invalid"}, "s3cret-pw"},
		{"busy port", []string{"--db", "sqlite:" + t.TempDir() + "/g.db", "--addr", busy.Addr().String()}, nil,
			[]string{"public listener", "address already in use"}, ""},
		{"bad master key", []string{"--db", "sqlite:" + t.TempDir() + "/g.db"}, map[string]string{"GATEHOUSE_MASTER_KEY": "not-a-key"},
			[]string{"master key"}, "not-a-key"},
		{"bad setting behind a busy port", []string{"--db", "sqlite:" + t.TempDir() + "/g.db", "--addr", busy.Addr().String(), "--signing-alg", "HS256"}, nil,
			[]string{"--signing-alg"}, ""},
	}
	if pgtest.ServerURL() != "" {
		cases = append(cases, struct {
			name string
			args []string
			env  map[string]string
			want []string
			not  string
		}{"missing database", []string{"--db", "postgres://postgres@127.0.0.1:5432/gatehouse_no_such_database?sslmode=disable"}, nil,
			[]string{"open the database", "gatehouse_no_such_database", "does not exist"}, ""})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(append([]string{}, base...), c.args...)
			code := run(context.Background(), args, &stdout, &stderr, env(c.env))
			line := strings.TrimSpace(stderr.String())
			if code != 1 || strings.Count(line, "\n") > 0 || !strings.HasPrefix(line, "gatehouse: ") {
				t.Fatalf("exit %d, stderr %q: want exit 1 and one line", code, stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q lacks %q", line, w)
				}
			}
			if c.not != "" && strings.Contains(line, c.not) {
				t.Errorf("%q gives away %q", line, c.not)
			}
		})
	}
}
