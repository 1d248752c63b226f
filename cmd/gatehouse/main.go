// Command gatehouse is the Gatehouse API access server and its admin CLI.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `gatehouse — self-hosted API access server

Usage:
  gatehouse quickstart [flags]     serve on SQLite in dev mode with a demo tenant and client
  gatehouse serve [flags]          run the server (flags and GATEHOUSE_* env; see --help)
  gatehouse migrate [--db URL]     apply database migrations and exit
  gatehouse keygen                 print a new master key and admin token
  gatehouse bench [flags]          load-test token issuance and the gateway on loopback
  gatehouse tenant create|list|get|delete|set-auth|test-idp|set-webhook|set-hand-out ...
  gatehouse client create|list|get|delete|rotate-secret|retire-secret|grant-tenant|revoke-tenant ...
  gatehouse user create|list|get|delete|set-roles|enable-api|disable-api ...
  gatehouse group create|list|delete|add-member|remove-member ...
  gatehouse key list|rotate ...
  gatehouse audit --tenant NAME ...

Admin subcommands call the admin API: --admin-url (GATEHOUSE_ADMIN_URL,
default http://127.0.0.1:8081) with --admin-token (GATEHOUSE_ADMIN_TOKEN; in
dev mode the token saved in the data directory is used). Add --json for
machine-readable output. A user's password is read from standard input
with --password-stdin, never from a flag.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run dispatches a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	env := &cmdEnv{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, env, args[1:], false)
	case "quickstart":
		err = serve(ctx, env, args[1:], true)
	case "migrate":
		err = migrate(ctx, env, args[1:])
	case "keygen":
		err = keygen(env)
	case "bench":
		err = bench(ctx, env, args[1:])
	case "tenant", "client", "user", "group", "key", "audit":
		err = adminCommand(ctx, env, args[0], args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err != errUsage {
			fmt.Fprintln(stderr, "gatehouse:", err)
		}
		return 1
	}
	return 0
}

type cmdEnv struct {
	stdin          io.Reader // --password-stdin
	stdout, stderr io.Writer
	getenv         func(string) string
}
