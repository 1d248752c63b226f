// Package app is the composition root: it opens the store, unseals the
// signing keys, builds the services and handlers, binds the two listeners
// and runs them until the context ends, then shuts down gracefully.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/apikeys"
	"github.com/gatehouse/gatehouse/internal/apisession"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/consents"
	"github.com/gatehouse/gatehouse/internal/console"
	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/pats"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/selfservice"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/tenants"
	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/webhook"
	"github.com/gatehouse/gatehouse/internal/websession"
)

// App is a running Gatehouse server.
type App struct {
	Config  config.Config
	Store   store.Store
	Keys    *keys.Manager
	Clients *clients.Service
	Tenants *tenants.Service
	Users   *users.Service
	PATs    *pats.Service
	Tokens  *token.Service
	Auth    *authn.Authenticator
	IdP     *federation.Verifier
	APIKeys *apikeys.Service
	// Consents is remembered consent: what users approved for clients.
	Consents *consents.Service
	// Webhooks delivers tenants' notifications from the outbox.
	Webhooks *webhook.Service
	// Egress makes requests to tenant-chosen URLs (IdP metadata, webhooks).
	Egress   *http.Client
	Gateway  *gateway.Gateway
	Limiter  ratelimit.Limiter
	Registry *prometheus.Registry
	Log      *slog.Logger
	// AdminToken is the plaintext admin token generated in dev mode on
	// first start ("" otherwise); it is printed once and never stored.
	AdminToken string

	audit     *audit.Recorder
	masterKey *secret.Sealer // seals signing keys and refresh replays
	redis     *redis.Client  // nil without --redis
	purged    *prometheus.CounterVec
	public    *http.Server
	admin     *http.Server
	publicLn  net.Listener
	adminLn   net.Listener
	now       func() time.Time
}

// New opens everything and binds the listeners, but serves nothing until
// Run. With --dev and no issuer, the issuer is the bound public address (so
// tests may listen on 127.0.0.1:0).
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{Config: cfg, Log: log, now: time.Now, Registry: prometheus.NewRegistry()}
	a.purged = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_purged_rows_total",
		Help: "Expired rows deleted by housekeeping, by table (counted on the replica that held the lock)."}, []string{"table"})
	a.Registry.MustRegister(a.purged)
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	// Every setting is checked, and the master key read, before anything
	// is bound or opened: a busy port must not hide a bad setting.
	pre := cfg
	pre.Finish()
	if err := pre.Validate(); err != nil {
		return nil, err
	}
	sealer, err := a.sealer()
	if err != nil {
		return nil, err
	}
	a.masterKey = sealer
	if a.publicLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("public listener: %w", err)
	}
	if a.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	// The issuer may name the bound address (dev mode, port 0).
	a.Config.Addr, a.Config.AdminAddr = a.publicLn.Addr().String(), a.adminLn.Addr().String()
	a.Config.Finish()
	if err := a.Config.Validate(); err != nil {
		return nil, err
	}
	cfg = a.Config
	raw, err := OpenStore(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if t, ok := raw.(interface{ SetTimeout(time.Duration) }); ok {
		t.SetTimeout(cfg.StoreTimeout)
	}
	// Every service writes through the watched store, so that whatever
	// takes authority away from a credential reaches this replica's
	// authenticator at once (authn.Watch); its other fields are set below.
	a.Auth = &authn.Authenticator{Store: raw, Log: log, Now: a.now, CacheTTL: cfg.DenyListRefresh}
	a.Store = a.Auth.Watch(raw)
	a.Keys = &keys.Manager{Store: a.Store, Sealer: sealer, Alg: jose.SignatureAlgorithm(cfg.SigningAlg),
		Overlap: keys.MaxTokenLifetime, PublishAhead: cfg.KeyPublishAhead, Log: log, Now: a.now}
	if err := a.Keys.Load(ctx); err != nil {
		return nil, err
	}
	a.audit = audit.NewRecorder(a.Store, log)
	a.Users = &users.Service{Store: a.Store, Families: a.Store, Now: a.now, Log: log}
	a.Clients = &clients.Service{Store: a.Store, Owners: a.Users, Now: a.now, CacheTTL: cfg.ClientCacheTTL, Log: log}
	a.Tenants = &tenants.Service{Store: a.Store, Now: a.now, Changed: func() { a.Clients.Invalidate("") }}
	a.Tokens = &token.Service{Issuer: cfg.Issuer, Keys: a.Keys, Store: a.Store, Now: a.now}
	if err := a.openLimiter(); err != nil {
		return nil, err
	}
	a.PATs = &pats.Service{Store: a.Store, Users: a.Users, Now: a.now}
	a.Egress = egress.New(egress.Options{AllowHTTP: cfg.Dev, AllowPrivate: cfg.EgressAllowPrivate, Timeout: cfg.EgressTimeout})
	a.IdP = &federation.Verifier{Client: a.Egress, Now: a.now, Log: log}
	a.APIKeys = &apikeys.Service{Store: a.Store, Users: a.Users, Now: a.now}
	a.Consents = &consents.Service{Store: a.Store, Now: a.now}
	a.Webhooks = &webhook.Service{Store: a.Store, Client: a.Egress, Now: a.now, Log: log,
		Secret: func(tenantID string) []byte { return a.masterKey.Derive("webhook " + tenantID) }}
	a.Auth.Tokens, a.Auth.Clients, a.Auth.Users, a.Auth.IdP = a.Tokens, a.Clients, a.Users, a.IdP
	a.Auth.PATs, a.Auth.PATUsed, a.Auth.APIKeys, a.Auth.Tenants = a.Store, a.PATs.RecordUse, a.Store, a.Store
	if err := a.Auth.RefreshDenyList(ctx); err != nil {
		return nil, fmt.Errorf("deny list: %w", err)
	}
	proxies, _ := httpx.ParseProxies(cfg.TrustedProxies) // validated in Config.Validate
	a.Gateway = &gateway.Gateway{Auth: a.Auth, Limiter: a.Limiter, Realm: cfg.Issuer, Log: log, Now: a.now, Proxies: proxies,
		Metrics: gateway.NewMetrics(a.Registry), Used: a.Clients.RecordRequest, Limited: a.Clients.RecordRejected,
		Links: &gateway.Links{Keys: a.Keys, Now: a.now, Base: cfg.Issuer}}
	if err := a.ReloadRoutes(); err != nil {
		return nil, err
	}
	bootstrap, err := a.adminCredential(ctx)
	if err != nil {
		return nil, err
	}
	a.buildServers(bootstrap)
	return a, nil
}

// openLimiter picks the rate limiter: in-process, or Redis shared by every
// replica (falling back to in-process budgets while Redis is unreachable,
// unless told to fail closed).
func (a *App) openLimiter() error {
	local := ratelimit.NewLocal(a.now)
	a.Limiter = local
	if a.Config.Redis == "" {
		return nil
	}
	opt, err := redis.ParseURL(a.Config.Redis)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, time.Second, time.Second
	opt.MaxRetries = -1   // a late rate-limit answer is worse than the fallback
	opt.DialerRetries = 1 // a refused connection is an answer: fall back at once
	redis.SetLogger(redisLogger{a.Log})
	a.redis = redis.NewClient(opt)
	rl := &ratelimit.Redis{Client: a.redis, Prefix: "gatehouse:rl:", Fallback: local, FailClosed: a.Config.RedisFailClosed,
		Timeout: 250 * time.Millisecond, Retry: time.Second}
	a.Limiter = rl
	a.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_redis_up",
		Help: "1 while the last rate-limit check reached Redis, 0 while budgets are per replica (or failing closed)."},
		func() float64 {
			if rl.Healthy() {
				return 1
			}
			return 0
		}))
	return nil
}

// redisLogger sends go-redis's own log lines (dial failures, mostly) to
// slog at debug level: outages are reported once, by readiness and metrics,
// not once per pooled connection attempt.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis: " + fmt.Sprintf(format, v...))
}

// ReloadRoutes (re)reads the routes file; on error the routes in force stay.
func (a *App) ReloadRoutes() error {
	if a.Config.Routes == "" {
		a.Gateway.Install(&gateway.Table{Defaults: gateway.DefaultBudgets})
		return nil
	}
	t, err := gateway.LoadFile(a.Config.Routes)
	if err != nil {
		return err
	}
	a.Gateway.Install(t)
	a.Log.Info("gateway routes loaded", "file", a.Config.Routes, "routes", len(t.Routes()))
	return nil
}

// OpenStore opens the backend named by a --db value. A failure names the
// database (its password left out) and the cause, and is a nil store,
// never a typed nil one.
func OpenStore(ctx context.Context, db string) (store.Store, error) {
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open the database %s: %w", db, err)
		}
		return s, nil
	}
	s, err := postgres.Open(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %s", redact(db), oneLine(err))
	}
	return s, nil
}

// oneLine is err's text on one line, each line once: pgx reports every
// address it tried on a line of its own, often twice (with and without TLS).
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(parts, l) {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// redact is a database URL without its password.
func redact(db string) string {
	u, err := url.Parse(db)
	if err != nil {
		return "(a PostgreSQL URL that does not parse)"
	}
	return u.Redacted()
}

// sealer returns the master-key sealer; in dev mode a key is generated into
// the data directory on first start.
func (a *App) sealer() (*secret.Sealer, error) {
	raw, err := a.Config.ReadMasterKey()
	if err != nil {
		return nil, err
	}
	if raw == "" && a.Config.Dev {
		path := filepath.Join(a.Config.DataDir, "master.key")
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			raw = strings.TrimSpace(string(b))
		case errors.Is(err, os.ErrNotExist):
			raw = secret.NewMasterKey()
			if err := os.MkdirAll(a.Config.DataDir, 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(raw+"\n"), 0o600); err != nil {
				return nil, err
			}
			a.Log.Warn("dev mode: generated a master key", "path", path)
		default:
			return nil, err
		}
	}
	key, err := secret.ParseMasterKey(raw)
	if err != nil {
		return nil, err
	}
	return secret.NewSealer(key)
}

// adminCredential returns the digest of the bootstrap admin token, if one
// is configured; in dev mode with no admin credential at all, it mints one
// and keeps the plaintext in a.AdminToken to be printed once.
func (a *App) adminCredential(ctx context.Context) (*secret.Digest, error) {
	if tok := a.Config.AdminToken; tok != "" {
		if secret.Parse(tok, secret.AdminToken) != nil {
			return nil, errors.New("GATEHOUSE_ADMIN_TOKEN is not a gate_adm_ token: make one with `gatehouse keygen`")
		}
		d := secret.Hash(tok)
		return &d, nil
	}
	if !a.Config.Dev {
		return nil, nil
	}
	n, err := a.Store.CountAdminCredentials(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	tok := secret.New(secret.AdminToken)
	cred := &store.AdminCredential{ID: secret.NewID("adm"), Name: "dev bootstrap", Digest: secret.Hash(tok).String(), CreatedAt: a.now().UTC()}
	ev := store.Event{Time: cred.CreatedAt, Actor: "system", Action: audit.AdminCreate, Target: cred.ID, Outcome: audit.Success}
	if err := a.Store.CreateAdminCredential(ctx, cred, ev); err != nil {
		return nil, err
	}
	a.AdminToken = tok
	return nil, nil
}

func (a *App) buildServers(bootstrap *secret.Digest) {
	cfg, log := a.Config, a.Log
	proxies, _ := httpx.ParseProxies(cfg.TrustedProxies) // validated in Config.Validate
	rec := a.audit
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_audit_events_dropped_total",
			Help: "Stand-alone audit events lost to a full buffer or a failed write."}, func() float64 { return float64(rec.Dropped()) }))

	sessions := &websession.Sessions{Keys: a.Keys, Now: a.now, Secure: strings.HasPrefix(cfg.Issuer, "https://"), Ended: a.Auth}
	pub := http.NewServeMux()
	(&authserver.Server{Sessions: sessions,
		Issuer: cfg.Issuer, Clients: a.Clients, Tokens: a.Tokens, Keys: a.Keys, Quota: a.Limiter,
		Auth: a.Auth, Store: a.Store, Users: a.Users, Consents: a.Consents, Sealer: a.masterKey, RefreshGrace: cfg.RefreshGrace, FamilyLifetime: cfg.RefreshFamilyLifetime,
		Audit: a.audit, Log: log, Now: a.now, DefaultTTL: cfg.AccessTokenTTL, Issued: authserver.NewIssuedCounter(a.Registry),
	}).Mount(pub)
	(&console.Handler{Sessions: sessions,
		Tenants: a.Store, Users: a.Users, PATs: a.PATs, APIKeys: a.APIKeys, Clients: a.Store, ClientService: a.Clients, Events: a.Store, OpenAPI: httpapi.OpenAPI(), RouteGrants: a.Gateway.TenantGrants, TenantService: a.Tenants, Egress: a.Egress, Limiter: a.Limiter, Audit: a.audit, Webhooks: a.Webhooks, Log: log, Now: a.now}).Mount(pub)
	(&selfservice.Handler{Auth: a.Auth, PATs: a.PATs, Consents: a.Consents, Tenants: a.Store, Realm: cfg.Issuer, Log: log, Now: a.now}).Mount(pub)
	(&apisession.Handler{Store: a.Store, Users: a.Users, Clients: a.Clients, Tokens: a.Tokens, Limiter: a.Limiter, Audit: a.audit,
		Alert: a.Webhooks.Enqueue, Issuer: cfg.Issuer, DefaultTTL: cfg.AccessTokenTTL, Log: log, Now: a.now}).Mount(pub)
	a.mountHealth(pub)
	pub.Handle("/", a.Gateway)
	publicHandler := httpx.Chain(pub, httpx.Meta(proxies), httpx.Observe(httpx.NewMetrics(a.Registry, "public"), log),
		httpx.Recover(log), httpx.SecurityHeaders, httpx.RequireHTTPS(proxies, cfg.Dev || cfg.TLSCert != ""), httpx.CanonicalPaths)
	a.public = httpx.Server(cfg.Addr, publicHandler, log)
	if cfg.TLSCert != "" {
		a.public.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	adm := http.NewServeMux()
	(&httpapi.API{Store: a.Store, Tenants: a.Tenants, Clients: a.Clients, Users: a.Users, PATs: a.PATs, Consents: a.Consents, Keys: a.Keys, BootstrapToken: bootstrap,
		APIKeys: a.APIKeys, SignLink: a.Gateway.SignLink, RouteGrants: a.Gateway.TenantGrants, Egress: a.Egress, Webhooks: a.Webhooks, Log: log, Now: a.now}).Mount(adm)
	adm.Handle("GET /metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
	a.mountHealth(adm)
	adminHandler := httpx.Chain(adm, httpx.Meta(proxies), httpx.Observe(httpx.NewMetrics(a.Registry, "admin"), log),
		httpx.Recover(log), httpx.SecurityHeaders)
	a.admin = httpx.Server(cfg.AdminAddr, adminHandler, log)
}

func (a *App) mountHealth(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		protocol.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.Store.Ping(ctx); err != nil {
			a.Log.Warn("readiness: store unreachable", "err", err)
			protocol.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unreachable"})
			return
		}
		body := map[string]string{"status": "ready"}
		if a.redis != nil {
			body["redis"] = "ok"
			if err := a.redis.Ping(ctx).Err(); err != nil {
				a.Log.Warn("readiness: Redis unreachable", "err", err)
				body["redis"] = "unreachable: rate limits are per replica"
				if a.Config.RedisFailClosed {
					// Failing closed, this replica refuses gateway traffic.
					body["status"], body["redis"] = "redis unreachable", "unreachable"
					protocol.WriteJSON(w, http.StatusServiceUnavailable, body)
					return
				}
			}
		}
		protocol.WriteJSON(w, http.StatusOK, body)
	})
}

// PublicURL is the base URL of the public listener.
func (a *App) PublicURL() string { return a.Config.Issuer }

// AdminURL is the base URL of the admin listener.
func (a *App) AdminURL() string { return "http://" + a.adminLn.Addr().String() }

// Run serves until ctx ends, then stops accepting, lets in-flight requests
// finish (up to the shutdown grace), and flushes batched writes.
func (a *App) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		if a.Config.TLSCert != "" {
			errc <- a.public.ServeTLS(a.publicLn, a.Config.TLSCert, a.Config.TLSKey)
		} else {
			errc <- a.public.Serve(a.publicLn)
		}
	}()
	go func() { errc <- a.admin.Serve(a.adminLn) }()
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.housekeeping(bg) }()
	wg.Add(1)
	go func() { defer wg.Done(); a.Auth.Run(bg, a.Config.DenyListRefresh) }()
	wg.Add(1)
	go func() { defer wg.Done(); a.Webhooks.Run(bg) }()
	a.Log.Info("gatehouse serving", "issuer", a.Config.Issuer, "public", a.publicLn.Addr().String(), "admin", a.AdminURL())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	a.Log.Info("shutting down", "grace", a.Config.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownGrace)
	defer cancel()
	errs := []error{err, a.public.Shutdown(sctx), a.admin.Shutdown(sctx)}
	stopBG()
	wg.Wait()
	// A context of its own: the grace period may be spent already.
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	if err := a.Clients.FlushUsage(fctx); err != nil {
		errs = append(errs, fmt.Errorf("flush usage: %w", err))
	}
	if err := a.PATs.FlushUsage(fctx); err != nil {
		errs = append(errs, fmt.Errorf("flush token usage: %w", err))
	}
	a.Close()
	if err := errors.Join(errs...); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// housekeeping runs the periodic jobs: usage flushes, key reloads (to pick
// up a rotation made on another replica), and purging and scheduled key
// rotation by one replica at a time.
func (a *App) housekeeping(ctx context.Context) {
	flush := time.NewTicker(a.Config.UsageFlush)
	reload := time.NewTicker(a.Config.KeyReload)
	purge := time.NewTicker(a.Config.PurgeEvery)
	defer flush.Stop()
	defer reload.Stop()
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			if err := a.Clients.FlushUsage(ctx); err != nil {
				a.Log.Warn("usage flush failed", "err", err)
			}
			if err := a.PATs.FlushUsage(ctx); err != nil {
				a.Log.Warn("token usage flush failed", "err", err)
			}
		case <-reload.C:
			if err := a.Keys.Load(ctx); err != nil {
				a.Log.Warn("key reload failed", "err", err)
			}
		case <-purge.C:
			a.singleton(ctx)
		}
	}
}

// purgeBatch is how many rows of a table one purge statement deletes: small
// enough that each statement holds its locks briefly, however far behind
// the purge is.
const purgeBatch = 500

// singleton runs the jobs one replica is enough for, on the replica that
// holds the store's housekeeping lock (the others skip them this round):
// the purge of expired rows and the scheduled key rotation.
func (a *App) singleton(ctx context.Context) {
	unlock, ok, err := a.Store.TryLock(ctx, "housekeeping")
	if err != nil {
		a.Log.Warn("housekeeping: lock failed", "err", err)
		return
	}
	if !ok {
		return
	}
	defer unlock()
	now := a.now()
	for _, job := range []struct {
		table string
		purge func(limit int) (int, error)
	}{
		{"tokens", func(n int) (int, error) { return a.Store.PurgeExpiredTokens(ctx, now, n) }},
		{"auth_codes", func(n int) (int, error) { return a.Store.PurgeAuthCodes(ctx, now, n) }},
		// A family is kept as long as an access token it issued could live,
		// so that revoking it still denies them.
		{"refresh_families", func(n int) (int, error) { return a.Store.PurgeFamilies(ctx, now.Add(-keys.MaxTokenLifetime), n) }},
		{"client_usage_hourly", func(n int) (int, error) {
			return a.Store.PurgeClientUsage(ctx, now.Add(-clients.UsageRetention), n)
		}},
	} {
		for {
			n, err := job.purge(purgeBatch)
			a.purged.WithLabelValues(job.table).Add(float64(n))
			if err != nil {
				a.Log.Warn("purge failed", "table", job.table, "err", err)
				break
			}
			if n < purgeBatch || ctx.Err() != nil {
				break
			}
		}
	}
	if err := a.rotateIfDue(ctx); err != nil {
		a.Log.Warn("scheduled key rotation failed", "err", err)
	}
}

// rotateIfDue rotates the signing key when the newest is older than
// --key-rotate-every, publishing the new one --key-publish-ahead before it
// signs.
func (a *App) rotateIfDue(ctx context.Context) error {
	every := a.Config.KeyRotateEvery
	if every == 0 {
		return nil
	}
	if err := a.Keys.Load(ctx); err != nil { // another replica may have rotated
		return err
	}
	now := a.now()
	if now.Sub(a.Keys.Newest().Activates) < every {
		return nil
	}
	k, err := a.Keys.Rotate(ctx, "", a.Config.KeyPublishAhead, store.Event{Time: now.UTC(), Actor: "system",
		Action: audit.KeyRotate, Outcome: audit.Success, Detail: map[string]any{"scheduled": true}})
	if err != nil {
		return err
	}
	a.Log.Info("signing key rotated on schedule", "kid", k.ID, "signs_from", k.Activates)
	return nil
}

// Close releases everything New opened. Run calls it on the way out.
func (a *App) Close() {
	for _, ln := range []io.Closer{a.publicLn, a.adminLn} {
		if ln != nil {
			ln.Close()
		}
	}
	if a.audit != nil {
		a.audit.Close()
		a.audit = nil
	}
	if a.redis != nil {
		a.redis.Close()
		a.redis = nil
	}
	if a.Store != nil {
		a.Store.Close()
		a.Store = nil
	}
}

// PublicHandler is the public listener's handler, middleware included
// (for in-process benchmarks).
func (a *App) PublicHandler() http.Handler { return a.public.Handler }
