package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/sdk/admin"
)

// listFlag collects a repeatable, comma-separable flag.
type listFlag struct {
	vals []string
	set  bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

func (l *listFlag) Set(v string) error {
	l.set = true
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l.vals = append(l.vals, s)
		}
	}
	return nil
}

func (l *listFlag) ptr() *[]string {
	if !l.set {
		return nil
	}
	v := append([]string{}, l.vals...)
	return &v
}

// adminCmd is one admin subcommand being parsed and run.
type adminCmd struct {
	env     *cmdEnv
	fs      *flag.FlagSet
	url     string
	token   string
	dataDir string
	json    bool
	args    []string
}

func newAdminCmd(env *cmdEnv, name string) *adminCmd {
	c := &adminCmd{env: env, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(env.stderr)
	c.fs.StringVar(&c.url, "admin-url", "http://127.0.0.1:8081", "admin API base URL (GATEHOUSE_ADMIN_URL)")
	c.fs.StringVar(&c.token, "admin-token", "", "admin API token (GATEHOUSE_ADMIN_TOKEN)")
	c.fs.StringVar(&c.dataDir, "data-dir", "gatehouse-data", "dev-mode data directory holding a saved admin token (GATEHOUSE_DATA_DIR)")
	c.fs.BoolVar(&c.json, "json", false, "print JSON")
	return c
}

// parse reads flags wherever they stand among the positional arguments.
func (c *adminCmd) parse(args []string) error {
	for _, name := range []string{"admin-url", "admin-token", "data-dir"} {
		if v := c.env.getenv("GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
			c.fs.Set(name, v)
		}
	}
	for {
		if err := c.fs.Parse(args); err != nil {
			return errUsage
		}
		if c.fs.NArg() == 0 {
			break
		}
		c.args = append(c.args, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
	if c.token == "" {
		b, err := os.ReadFile(filepath.Join(c.dataDir, "admin-token"))
		if err != nil {
			return errors.New("no admin token: set GATEHOUSE_ADMIN_TOKEN or --admin-token")
		}
		c.token = strings.TrimSpace(string(b))
	}
	return nil
}

func (c *adminCmd) api() *admin.API { return admin.New(c.url, c.token) }

// arg returns positional argument i or fails with a usage message.
func (c *adminCmd) arg(i int, what string) (string, error) {
	if i >= len(c.args) {
		return "", fmt.Errorf("missing %s", what)
	}
	return c.args[i], nil
}

// print writes v as JSON with --json, else calls human.
func (c *adminCmd) print(v any, human func(w *tabwriter.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(c.env.stdout, 0, 4, 2, ' ', 0)
	human(w)
	return w.Flush()
}

func adminCommand(ctx context.Context, env *cmdEnv, group string, args []string) error {
	verb := ""
	if group != "audit" {
		if len(args) == 0 {
			return fmt.Errorf("%s: missing subcommand (see gatehouse help)", group)
		}
		verb, args = args[0], args[1:]
	}
	run, ok := adminCommands[strings.TrimSpace(group+" "+verb)]
	if !ok {
		return fmt.Errorf("unknown command %q (see gatehouse help)", strings.TrimSpace(group+" "+verb))
	}
	return run(ctx, newAdminCmd(env, group+" "+verb), args)
}

// adminCommands maps "group verb" to its implementation.
var adminCommands = map[string]func(context.Context, *adminCmd, []string) error{
	"tenant create":        tenantCreate,
	"tenant list":          tenantList,
	"tenant get":           tenantGet,
	"tenant delete":        tenantDelete,
	"tenant set-auth":      tenantSetAuth,
	"tenant test-idp":      tenantTestIdP,
	"tenant set-webhook":   tenantSetWebhook,
	"tenant set-hand-out":  tenantSetHandOut,
	"client create":        clientCreate,
	"client list":          clientList,
	"client get":           clientGet,
	"client delete":        clientDelete,
	"client rotate-secret": clientRotate,
	"client retire-secret": clientRetire,
	"client grant-tenant": func(ctx context.Context, c *adminCmd, args []string) error {
		return clientTenantGrant(ctx, c, args, true)
	},
	"client revoke-tenant": func(ctx context.Context, c *adminCmd, args []string) error {
		return clientTenantGrant(ctx, c, args, false)
	},
	"user create":         userCreate,
	"user list":           userList,
	"user get":            userGet,
	"user delete":         userDelete,
	"user set-roles":      userSetRoles,
	"user enable-api":     userAPIAccess(true),
	"user disable-api":    userAPIAccess(false),
	"group create":        groupCreate,
	"group list":          groupList,
	"group delete":        groupDelete,
	"group add-member":    groupMember(true),
	"group remove-member": groupMember(false),
	"key list":            keyList,
	"key rotate":          keyRotate,
	"audit":               auditList,
}

// everyPage follows a listing's cursors to the end.
func everyPage[T any](fetch func(after string) (*admin.List[T], error)) ([]T, error) {
	all := []T{}
	after := ""
	for {
		page, err := fetch(after)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Next == nil {
			return all, nil
		}
		after = *page.Next
	}
}

func seconds(d time.Duration) *int64 {
	s := int64(d / time.Second)
	return &s
}

func tenantCreate(ctx context.Context, c *adminCmd, args []string) error {
	ttl := c.fs.Duration("access-token-ttl", 0, "default access-token lifetime for the tenant's clients")
	lf := bindLimitFlags(c.fs, "the server's")
	one := c.fs.Bool("one-active-integration", false, "allow one API configuration (authorization_code client) in the tenant")
	if err := c.parse(args); err != nil {
		return err
	}
	name, err := c.arg(0, "tenant name")
	if err != nil {
		return err
	}
	limits, err := lf.input()
	if err != nil {
		return err
	}
	in := admin.TenantInput{Name: &name}
	if *ttl != 0 || limits != nil || *one {
		in.Settings = &admin.TenantSettingsInput{RateLimits: limits}
		if *ttl != 0 {
			in.Settings.AccessTokenTTL = seconds(*ttl)
		}
		if *one {
			in.Settings.OneActiveIntegration = one
		}
	}
	t, err := c.api().CreateTenant(ctx, in)
	if err != nil {
		return err
	}
	return c.print(t, func(w *tabwriter.Writer) { fmt.Fprintf(w, "created tenant %s (%s)\n", t.Name, t.ID) })
}

func tenantList(ctx context.Context, c *adminCmd, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	all, err := everyPage(func(after string) (*admin.List[admin.Tenant], error) { return c.api().ListTenants(ctx, after, 500) })
	if err != nil {
		return err
	}
	return c.print(all, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tID\tTOKEN TTL\tCREATED")
		for _, t := range all {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Name, t.ID, ttlString(t.Settings.AccessTokenTTL), t.CreatedAt.Format(time.RFC3339))
		}
	})
}

func tenantGet(ctx context.Context, c *adminCmd, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	name, err := c.arg(0, "tenant name")
	if err != nil {
		return err
	}
	t, err := c.api().GetTenant(ctx, name)
	if err != nil {
		return err
	}
	return c.print(t, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "name:\t%s\nid:\t%s\ntoken ttl:\t%s\ncreated:\t%s\n", t.Name, t.ID, ttlString(t.Settings.AccessTokenTTL), t.CreatedAt.Format(time.RFC3339))
		printLimits(w, t.Settings.RateLimits)
		if t.Settings.OneActiveIntegration {
			fmt.Fprintln(w, "policy:\tone active integration")
		}
		fmt.Fprintf(w, "user auth mode:\t%s\n", t.Settings.UserAuthMode)
		if idp := t.Settings.IdP; idp.Issuer != "" {
			fmt.Fprintf(w, "idp issuer:\t%s\nidp audiences:\t%s\nidp claim namespace:\t%s\n", idp.Issuer,
				strings.Join(idp.Audiences, ", "), idp.ClaimNamespace)
		}
		if t.Settings.WebhookURL != "" {
			fmt.Fprintf(w, "webhook:\t%s\n", t.Settings.WebhookURL)
		}
	})
}

// tenantSetAuth sets the user authentication mode and, with it, the
// identity provider (flags left out are left alone).
func tenantSetAuth(ctx context.Context, c *adminCmd, args []string) error {
	mode := c.fs.String("mode", "", "pat or oauth (empty: unchanged)")
	issuer := c.fs.String("issuer", "", "the IdP's issuer URL")
	var aud listFlag
	c.fs.Var(&aud, "audiences", "comma-separated audiences a token must name one of (repeatable)")
	ns := c.fs.String("claim-namespace", "", "prefix of the <ns>/email and <ns>/tenant claims, e.g. https://example.com")
	require := c.fs.Bool("require-tenant-claim", false, "refuse tokens without <ns>/tenant")
	if err := c.parse(args); err != nil {
		return err
	}
	name, err := c.arg(0, "tenant name")
	if err != nil {
		return err
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	in := &admin.TenantSettingsInput{IdP: &admin.IdPSettingsInput{}}
	if set["mode"] {
		in.UserAuthMode = mode
	}
	if set["issuer"] {
		in.IdP.Issuer = issuer
	}
	in.IdP.Audiences = aud.ptr()
	if set["claim-namespace"] {
		in.IdP.ClaimNamespace = ns
	}
	if set["require-tenant-claim"] {
		in.IdP.RequireTenantClaim = require
	}
	t, err := c.api().UpdateTenant(ctx, name, admin.TenantInput{Settings: in})
	if err != nil {
		return err
	}
	return c.print(t, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "tenant %s: user auth mode %s\n", t.Name, t.Settings.UserAuthMode)
	})
}

// tenantTestIdP fetches the IdP's discovery document and keys and says
// what it found.
func tenantTestIdP(ctx context.Context, c *adminCmd, args []string) error {
	issuer := c.fs.String("issuer", "", "issuer to try (default: the configured one)")
	if err := c.parse(args); err != nil {
		return err
	}
	name, err := c.arg(0, "tenant name")
	if err != nil {
		return err
	}
	res, err := c.api().TestIdP(ctx, name, *issuer)
	if err != nil {
		return err
	}
	if err := c.print(res, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "issuer:\t%s\njwks_uri:\t%s\nkeys:\t%s\nalgorithms:\t%s\n", res.Issuer, res.JWKSURI,
			strings.Join(res.KeyIDs, ", "), strings.Join(res.Algs, ", "))
	}); err != nil {
		return err
	}
	if !res.OK {
		return errors.New("the identity provider test failed: " + res.Error)
	}
	return nil
}

// tenantSetHandOut sets what the tenant's administrators may give their
// clients in the console: scopes and audiences (lists left out stay), or,
// with --from-routes, the routes' own again.
func tenantSetHandOut(ctx context.Context, c *adminCmd, args []string) error {
	var scopes, audiences listFlag
	c.fs.Var(&scopes, "scope", "a scope the tenant may hand out (repeatable, or comma-separated)")
	c.fs.Var(&audiences, "audience", "an audience the tenant may hand out (repeatable, or comma-separated)")
	fromRoutes := c.fs.Bool("from-routes", false, "go back to the scopes and audiences of the routes that carry {tenant}")
	if err := c.parse(args); err != nil {
		return err
	}
	name, err := c.arg(0, "tenant name")
	if err != nil {
		return err
	}
	in := &admin.HandOutInput{Scopes: scopes.ptr(), Audiences: audiences.ptr()}
	if *fromRoutes {
		in = &admin.HandOutInput{FromRoutes: fromRoutes}
	}
	t, err := c.api().UpdateTenant(ctx, name, admin.TenantInput{Settings: &admin.TenantSettingsInput{HandOut: in}})
	if err != nil {
		return err
	}
	return c.print(t, func(w *tabwriter.Writer) {
		h := t.Settings.HandOut
		from := "set by the operator"
		if h.FromRoutes {
			from = "the routes'"
		}
		fmt.Fprintf(w, "tenant %s hands out (%s):\nscopes:\t%s\naudiences:\t%s\n", t.Name, from,
			strings.Join(h.Scopes, " "), strings.Join(h.Audiences, " "))
	})
}

// tenantSetWebhook sets (or, with "", removes) the tenant's webhook URL.
func tenantSetWebhook(ctx context.Context, c *adminCmd, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	name, err := c.arg(0, "tenant name")
	if err != nil {
		return err
	}
	u, err := c.arg(1, "webhook URL (\"\" to remove)")
	if err != nil {
		return err
	}
	t, err := c.api().UpdateTenant(ctx, name, admin.TenantInput{Settings: &admin.TenantSettingsInput{WebhookURL: &u}})
	if err != nil {
		return err
	}
	return c.print(t, func(w *tabwriter.Writer) { fmt.Fprintf(w, "tenant %s: webhook %q\n", t.Name, t.Settings.WebhookURL) })
}

func tenantDelete(ctx context.Context, c *adminCmd, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	name, err := c.arg(0, "tenant name")
	if err != nil {
		return err
	}
	if err := c.api().DeleteTenant(ctx, name); err != nil {
		return err
	}
	return c.print(map[string]string{"deleted": name}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deleted tenant %s\n", name) })
}

func ttlString(s int64) string {
	if s == 0 {
		return "default"
	}
	return (time.Duration(s) * time.Second).String()
}

// limitFlags binds --read-limit and --write-limit, a credential's gateway
// budgets.
type limitFlags struct{ read, write *string }

func bindLimitFlags(fs *flag.FlagSet, next string) *limitFlags {
	help := "gateway budget for %s requests, COUNT/DURATION (e.g. %s); inherit to use " + next
	return &limitFlags{
		read:  fs.String("read-limit", "", fmt.Sprintf(help, "GET, HEAD and OPTIONS", "600/1m")),
		write: fs.String("write-limit", "", fmt.Sprintf(help, "other", "200/1m")),
	}
}

// input returns the budgets set, or nil when neither flag was given.
func (l *limitFlags) input() (*admin.RateLimitsInput, error) {
	var in admin.RateLimitsInput
	for _, f := range []struct {
		name, val string
		dst       **admin.Quota
	}{{"read-limit", *l.read, &in.Read}, {"write-limit", *l.write, &in.Write}} {
		if f.val == "" {
			continue
		}
		q, err := parseLimit(f.val)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", f.name, f.val, err)
		}
		*f.dst = q
	}
	if in.Read == nil && in.Write == nil {
		return nil, nil
	}
	return &in, nil
}

// parseLimit reads COUNT/DURATION (600/1m: 600 requests a minute), or
// "inherit" (a zero budget, which falls back to the next level's).
func parseLimit(v string) (*admin.Quota, error) {
	if v == "inherit" {
		return &admin.Quota{}, nil
	}
	n, per, ok := strings.Cut(v, "/")
	if !ok {
		return nil, errors.New("want COUNT/DURATION, e.g. 600/1m, or inherit")
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return nil, fmt.Errorf("count %q must be a whole number of at least 1", n)
	}
	d, err := time.ParseDuration(per)
	if err != nil || d < time.Second || d%time.Second != 0 {
		return nil, fmt.Errorf("duration %q must be whole seconds, at least 1s (e.g. 1s, 1m, 1h)", per)
	}
	return &admin.Quota{Count: count, Per: int64(d / time.Second)}, nil
}

func limitString(q admin.Quota) string {
	return fmt.Sprintf("%d per %s", q.Count, time.Duration(q.Per)*time.Second)
}

// printLimits shows the budgets set; those not shown are inherited.
func printLimits(w *tabwriter.Writer, rl admin.RateLimits) {
	if rl.Read.Count > 0 {
		fmt.Fprintf(w, "read limit:\t%s\n", limitString(rl.Read))
	}
	if rl.Write.Count > 0 {
		fmt.Fprintf(w, "write limit:\t%s\n", limitString(rl.Write))
	}
}

// clientFlags binds the settable client fields.
type clientFlags struct {
	name                     *string
	grants, scopes, auds, ru listFlag
	ttl                      *time.Duration
	format                   *string
	quota                    *string
	limits                   *limitFlags
	owner                    *string
}

func bindClientFlags(c *adminCmd) *clientFlags {
	f := &clientFlags{
		name:   c.fs.String("name", "", "display name"),
		ttl:    c.fs.Duration("access-token-ttl", 0, "access-token lifetime (0: tenant default)"),
		format: c.fs.String("token-format", "", "jwt or opaque"),
		quota:  c.fs.String("quota", "", "token issuance quota, COUNT/DURATION (e.g. 100/1h); off to disable"),
		limits: bindLimitFlags(c.fs, "the tenant's"),
		owner:  c.fs.String("owner", "", "`USER_ID` of the tenant's user who alone may authorize the client (a user-based integration)"),
	}
	c.fs.Var(&f.grants, "grant", "allowed grant type (repeatable)")
	c.fs.Var(&f.scopes, "scope", "allowed scope (repeatable)")
	c.fs.Var(&f.auds, "audience", "allowed audience (repeatable)")
	c.fs.Var(&f.ru, "redirect-uri", "registered redirect URI (repeatable)")
	return f
}

func (f *clientFlags) input(c *adminCmd) (admin.ClientInput, error) {
	in := admin.ClientInput{Grants: f.grants.ptr(), Scopes: f.scopes.ptr(), Audiences: f.auds.ptr(), RedirectURIs: f.ru.ptr()}
	c.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			in.Name = f.name
		case "access-token-ttl":
			in.AccessTokenTTL = seconds(*f.ttl)
		case "token-format":
			in.TokenFormat = f.format
		case "owner":
			in.OwnerUserID = f.owner
		}
	})
	if *f.quota != "" {
		q := admin.Quota{}
		if *f.quota != "off" {
			n, per, ok := strings.Cut(*f.quota, "/")
			count, err1 := strconv.Atoi(n)
			d, err2 := time.ParseDuration(per)
			if !ok || err1 != nil || err2 != nil {
				return in, errors.New("--quota: want COUNT/DURATION, e.g. 100/1h")
			}
			q = admin.Quota{Count: count, Per: int64(d / time.Second)}
		}
		in.IssueQuota = &q
	}
	limits, err := f.limits.input()
	in.RateLimits = limits
	return in, err
}

func clientCreate(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	f := bindClientFlags(c)
	if err := c.parse(args); err != nil {
		return err
	}
	in, err := f.input(c)
	if err != nil {
		return err
	}
	cl, err := c.api().CreateClient(ctx, *tenant, in)
	if err != nil {
		return err
	}
	return c.print(cl, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "client_id:\t%s\nclient_secret:\t%s\n\nStore the secret now: it is shown only this once.\n", cl.ClientID, cl.ClientSecret)
	})
}

func clientList(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	if err := c.parse(args); err != nil {
		return err
	}
	all, err := everyPage(func(after string) (*admin.List[admin.Client], error) {
		return c.api().ListClients(ctx, *tenant, after, 500)
	})
	if err != nil {
		return err
	}
	return c.print(all, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "CLIENT ID\tNAME\tGRANTS\tSCOPES\tFORMAT\tSECRETS\tTOKENS\tLAST USED")
		for _, cl := range all {
			last := "never"
			if cl.LastUsedAt != nil {
				last = cl.LastUsedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", cl.ClientID, cl.Name, strings.Join(cl.Grants, ","),
				strings.Join(cl.Scopes, ","), cl.TokenFormat, len(cl.Secrets), cl.TokensIssued, last)
		}
	})
}

func clientGet(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	if err := c.parse(args); err != nil {
		return err
	}
	id, err := c.arg(0, "client id")
	if err != nil {
		return err
	}
	cl, err := c.api().GetClient(ctx, *tenant, id)
	if err != nil {
		return err
	}
	return c.print(cl, func(w *tabwriter.Writer) { printClient(w, cl) })
}

func printClient(w *tabwriter.Writer, cl *admin.Client) {
	fmt.Fprintf(w, "client_id:\t%s\nname:\t%s\ntenant:\t%s\ngrants:\t%s\nscopes:\t%s\naudiences:\t%s\ntoken format:\t%s\ntoken ttl:\t%s\n",
		cl.ClientID, cl.Name, cl.Tenant, strings.Join(cl.Grants, " "), strings.Join(cl.Scopes, " "),
		strings.Join(cl.Audiences, " "), cl.TokenFormat, ttlString(cl.AccessTokenTTL))
	if len(cl.GrantedTenants) > 0 {
		fmt.Fprintf(w, "also covers:\t%s\n", strings.Join(cl.GrantedTenants, " "))
	}
	if cl.IssueQuota.Count > 0 {
		fmt.Fprintf(w, "issue quota:\t%s\n", limitString(cl.IssueQuota))
	}
	if cl.OwnerUserID != "" {
		fmt.Fprintf(w, "owner:\t%s\n", cl.OwnerUserID)
	}
	printLimits(w, cl.RateLimits)
	for _, s := range cl.Secrets {
		exp := "no expiry"
		if s.ExpiresAt != nil {
			exp = "expires " + s.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "secret:\t%s  %s…  created %s, %s\n", s.ID, s.Hint, s.CreatedAt.Format(time.RFC3339), exp)
	}
}

func clientDelete(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	if err := c.parse(args); err != nil {
		return err
	}
	id, err := c.arg(0, "client id")
	if err != nil {
		return err
	}
	if err := c.api().DeleteClient(ctx, *tenant, id); err != nil {
		return err
	}
	return c.print(map[string]string{"deleted": id}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deleted client %s\n", id) })
}

func clientRotate(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	prev := c.fs.Duration("previous-expires-in", 0, "let the previous secret expire after this long (default: valid until retired)")
	if err := c.parse(args); err != nil {
		return err
	}
	id, err := c.arg(0, "client id")
	if err != nil {
		return err
	}
	out, err := c.api().RotateSecret(ctx, *tenant, id, admin.RotateInput{PreviousExpiresIn: int64(*prev / time.Second)})
	if err != nil {
		return err
	}
	return c.print(out, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "new secret id:\t%s\nclient_secret:\t%s\n\nStore the secret now: it is shown only this once.\nRetire the old one when every integration uses the new one:\n  gatehouse client retire-secret --tenant %s %s SECRET_ID\n",
			out.Secret.ID, out.ClientSecret, *tenant, id)
	})
}

func clientRetire(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	if err := c.parse(args); err != nil {
		return err
	}
	id, err := c.arg(0, "client id")
	if err != nil {
		return err
	}
	sid, err := c.arg(1, "secret id")
	if err != nil {
		return err
	}
	cl, err := c.api().RetireSecret(ctx, *tenant, id, sid)
	if err != nil {
		return err
	}
	return c.print(cl, func(w *tabwriter.Writer) { printClient(w, cl) })
}

// clientTenantGrant grants (or withdraws) a client's access to another tenant.
func clientTenantGrant(ctx context.Context, c *adminCmd, args []string, grant bool) error {
	tenant := c.fs.String("tenant", "", "tenant name (required)")
	if err := c.parse(args); err != nil {
		return err
	}
	id, err := c.arg(0, "client id")
	if err != nil {
		return err
	}
	other, err := c.arg(1, "other tenant name")
	if err != nil {
		return err
	}
	call := c.api().GrantTenant
	if !grant {
		call = c.api().RevokeTenant
	}
	cl, err := call(ctx, *tenant, id, other)
	if err != nil {
		return err
	}
	return c.print(cl, func(w *tabwriter.Writer) { printClient(w, cl) })
}

func keyList(ctx context.Context, c *adminCmd, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	ks, err := c.api().ListKeys(ctx)
	if err != nil {
		return err
	}
	return c.print(ks, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "KID\tALG\tSTATE")
		for _, k := range ks {
			state := "published"
			if k.Current {
				state = "signing"
			} else if k.ActivatesAt.After(time.Now()) {
				state = "signs from " + k.ActivatesAt.Format(time.RFC3339)
			} else if k.RetiredAt != nil {
				state = "retired " + k.RetiredAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", k.KID, k.Alg, state)
		}
	})
}

func keyRotate(ctx context.Context, c *adminCmd, args []string) error {
	alg := c.fs.String("alg", "", "algorithm of the new key: ES256, RS256 or EdDSA (default: the server's)")
	now := c.fs.Bool("immediate", false, "sign with the new key at once instead of after the server's --key-publish-ahead (for a compromised key)")
	if err := c.parse(args); err != nil {
		return err
	}
	k, err := c.api().RotateKey(ctx, admin.RotateKeyInput{Alg: *alg, Immediate: *now})
	if err != nil {
		return err
	}
	return c.print(k, func(w *tabwriter.Writer) {
		if k.Current {
			fmt.Fprintf(w, "now signing with %s (%s)\n", k.KID, k.Alg)
		} else {
			fmt.Fprintf(w, "published %s (%s); it signs from %s\n", k.KID, k.Alg, k.ActivatesAt.Format(time.RFC3339))
		}
	})
}

func auditList(ctx context.Context, c *adminCmd, args []string) error {
	tenant := c.fs.String("tenant", "", "tenant name (empty: server-wide events)")
	action := c.fs.String("action", "", `action, or a prefix ending in "." (e.g. client.)`)
	since := c.fs.Duration("since", 0, "only events newer than this (e.g. 24h)")
	limit := c.fs.Int("limit", 50, "events to show")
	if err := c.parse(args); err != nil {
		return err
	}
	q := admin.AuditQuery{Action: *action, Limit: *limit}
	if *since > 0 {
		q.Since = time.Now().Add(-*since)
	}
	page, err := c.api().Audit(ctx, *tenant, q)
	if err != nil {
		return err
	}
	return c.print(page, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "TIME\tACTION\tOUTCOME\tACTOR\tTARGET\tIP")
		for _, e := range page.Items {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Action, e.Outcome, e.Actor, e.Target, e.IP)
		}
	})
}
