// Package config owns Gatehouse's one Config: defaults, command-line flags
// with a GATEHOUSE_* environment variable for each, and Validate, which
// lists every bad setting at once.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/keys"
)

// Config is every setting of a Gatehouse server.
type Config struct {
	Addr           string
	AdminAddr      string
	DB             string // sqlite:PATH or postgres://...
	DataDir        string
	Issuer         string
	TLSCert        string
	TLSKey         string
	Dev            bool
	MasterKey      string // base64 or hex; secret
	MasterKeyFile  string
	AdminToken     string // bootstrap admin credential; secret
	SigningAlg     string
	AccessTokenTTL time.Duration
	ClientCacheTTL time.Duration
	UsageFlush     time.Duration
	TrustedProxies string
	LogLevel       string
	LogFormat      string
	ShutdownGrace  time.Duration
	// Routes is the gateway's routes file (YAML or JSON); "" serves no
	// gateway routes.
	Routes string
	// Redis is a redis:// URL; when set, rate-limit budgets are shared by
	// every replica through it.
	Redis           string
	RedisFailClosed bool
	DenyListRefresh time.Duration
	// RefreshGrace lets a client retry a refresh whose response it lost;
	// RefreshFamilyLifetime is how long one authorization lasts.
	RefreshGrace          time.Duration
	RefreshFamilyLifetime time.Duration
	// Outbound requests to tenant-chosen URLs (IdP metadata, webhooks):
	// EgressAllowPrivate permits loopback and private destinations;
	// EgressTimeout bounds each request.
	EgressAllowPrivate bool
	EgressTimeout      time.Duration
	// KeyPublishAhead is how long a rotated signing key is in the JWKS
	// before it signs; KeyReload how often each replica rereads the keys;
	// KeyRotateEvery, when set, rotates the signing key on that schedule.
	KeyPublishAhead time.Duration
	KeyReload       time.Duration
	KeyRotateEvery  time.Duration
	// StoreTimeout bounds each database call, so that requests answer 503
	// quickly while the database is unreachable.
	StoreTimeout time.Duration
	// PurgeEvery is how often expired rows are purged (in small batches,
	// by one replica at a time).
	PurgeEvery time.Duration
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Addr:                  "127.0.0.1:8080",
		AdminAddr:             "127.0.0.1:8081",
		DataDir:               "gatehouse-data",
		SigningAlg:            "ES256",
		AccessTokenTTL:        time.Hour,
		ClientCacheTTL:        time.Second,
		UsageFlush:            5 * time.Second,
		LogLevel:              "info",
		LogFormat:             "text",
		ShutdownGrace:         20 * time.Second,
		DenyListRefresh:       500 * time.Millisecond,
		RefreshFamilyLifetime: 30 * 24 * time.Hour,
		EgressTimeout:         10 * time.Second,
		KeyPublishAhead:       5 * time.Minute,
		KeyReload:             30 * time.Second,
		PurgeEvery:            time.Minute,
		StoreTimeout:          5 * time.Second,
	}
}

// Flags binds every setting to fs. Each flag --some-name also reads
// GATEHOUSE_SOME_NAME; a flag given on the command line wins.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "public listener address (token endpoints, discovery)")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "admin listener address (admin API, metrics); keep it private")
	fs.StringVar(&c.DB, "db", c.DB, "database: sqlite:PATH (default: sqlite in --data-dir) or a postgres:// URL")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the SQLite file and, in dev mode, the generated master key")
	fs.StringVar(&c.Issuer, "issuer", c.Issuer, "issuer URL, the public base URL (default in dev mode: http://ADDR)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file for the public listener")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS key file for the public listener")
	fs.BoolVar(&c.Dev, "dev", c.Dev, "development mode: plain HTTP issuer allowed, master key and admin token generated")
	fs.StringVar(&c.MasterKey, "master-key", c.MasterKey, "32-byte master key (base64 or hex) that encrypts signing keys; prefer the env variable or --master-key-file")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", c.MasterKeyFile, "file holding the master key")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "bootstrap admin API token (prefer the env variable)")
	fs.StringVar(&c.SigningAlg, "signing-alg", c.SigningAlg, "access-token signing algorithm: ES256, RS256 or EdDSA")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", c.AccessTokenTTL, "default access-token lifetime when neither client nor tenant sets one")
	fs.DurationVar(&c.ClientCacheTTL, "client-cache-ttl", c.ClientCacheTTL, "how long a replica trusts its cached copy of a client")
	fs.DurationVar(&c.UsageFlush, "usage-flush", c.UsageFlush, "how often batched usage counters are written")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "comma-separated CIDRs whose X-Forwarded-* headers are believed")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long in-flight requests may take after SIGTERM")
	fs.StringVar(&c.Routes, "routes", c.Routes, "gateway routes file (YAML or JSON, see docs/gateway.md); reloaded on SIGHUP")
	fs.StringVar(&c.Redis, "redis", c.Redis, "redis:// URL shared by all replicas for rate limits (default: per-replica limits)")
	fs.BoolVar(&c.RedisFailClosed, "redis-fail-closed", c.RedisFailClosed, "answer 503 while Redis is unreachable instead of falling back to per-replica limits")
	fs.DurationVar(&c.RefreshGrace, "refresh-grace", c.RefreshGrace, "window in which a client may retry a refresh whose response it lost and get the same pair (0: off; any reuse revokes the session)")
	fs.DurationVar(&c.RefreshFamilyLifetime, "refresh-family-lifetime", c.RefreshFamilyLifetime, "absolute lifetime of a user authorization; past it refresh fails and the user authorizes again")
	fs.BoolVar(&c.EgressAllowPrivate, "egress-allow-private", c.EgressAllowPrivate, "let tenant-configured URLs (IdP issuers, webhooks) reach loopback, private and link-local addresses (off: refused, against SSRF)")
	fs.DurationVar(&c.EgressTimeout, "egress-timeout", c.EgressTimeout, "time limit of each outbound request to an IdP or webhook receiver")
	fs.DurationVar(&c.KeyPublishAhead, "key-publish-ahead", c.KeyPublishAhead, "how long a rotated signing key is published in the JWKS before it signs, so that every replica and verifier has it first (0: sign at once); keep it above --key-reload and the JWKS cache lifetime (60s)")
	fs.DurationVar(&c.KeyReload, "key-reload", c.KeyReload, "how often each replica rereads the signing keys (to pick up a rotation made on another)")
	fs.DurationVar(&c.KeyRotateEvery, "key-rotate-every", c.KeyRotateEvery, "rotate the signing key automatically when the newest is this old, e.g. 2160h (0: only when asked through the admin API)")
	fs.DurationVar(&c.StoreTimeout, "store-timeout", c.StoreTimeout, "time limit of each database call: past it the request answers 503 temporarily_unavailable instead of waiting on an unresponsive database")
	fs.DurationVar(&c.PurgeEvery, "purge-every", c.PurgeEvery, "how often expired codes, tokens, revocations and refresh families are deleted (in batches, by one replica at a time)")
	fs.DurationVar(&c.DenyListRefresh, "deny-list-refresh", c.DenyListRefresh, "how often each replica loads new token revocations, and how long it trusts a cached opaque-token lookup: the bound on how late another replica's revocation is honoured")
}

// Parse reads flags from args and the environment (env values are applied
// first, so flags on the command line win).
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return fs.Parse(args)
}

// EnvName is the environment variable of a flag: admin-addr → GATEHOUSE_ADMIN_ADDR.
func EnvName(flagName string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Finish fills in derived defaults (database path, dev issuer).
func (c *Config) Finish() {
	if c.DB == "" {
		c.DB = "sqlite:" + filepath.Join(c.DataDir, "gatehouse.db")
	}
	if c.Issuer == "" && c.Dev {
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		c.Issuer = scheme + "://" + c.Addr
	}
	c.Issuer = strings.TrimSuffix(c.Issuer, "/")
}

// Validate lists every bad setting at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for name, addr := range map[string]string{"addr": c.Addr, "admin-addr": c.AdminAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("--%s %q: want host:port", name, addr)
		}
	}
	if !strings.HasPrefix(c.DB, "sqlite:") && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		bad("--db %q: want sqlite:PATH or postgres://...", c.DB)
	}
	switch u, err := url.Parse(c.Issuer); {
	case c.Issuer == "":
		bad("--issuer is required outside dev mode")
	case err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		bad("--issuer %q: want an absolute URL without query or fragment", c.Issuer)
	case u.Scheme != "https" && !c.Dev:
		bad("--issuer %q: must be https outside dev mode (RFC 8414 §2)", c.Issuer)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("--tls-cert and --tls-key go together")
	}
	if !c.Dev && c.MasterKey == "" && c.MasterKeyFile == "" {
		bad("a master key is required outside dev mode: set GATEHOUSE_MASTER_KEY or --master-key-file")
	}
	if c.MasterKey != "" && c.MasterKeyFile != "" {
		bad("set the master key or the master key file, not both")
	}
	if !keys.ValidAlg(c.SigningAlg) {
		bad("--signing-alg %q: want ES256, RS256 or EdDSA", c.SigningAlg)
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 30*24*time.Hour {
		bad("--access-token-ttl %s: want between 1m and 720h", c.AccessTokenTTL)
	}
	if c.ClientCacheTTL < 0 || c.ClientCacheTTL > time.Minute {
		bad("--client-cache-ttl %s: want between 0 and 1m", c.ClientCacheTTL)
	}
	if c.UsageFlush < 100*time.Millisecond {
		bad("--usage-flush %s: want at least 100ms", c.UsageFlush)
	}
	if _, err := httpx.ParseProxies(c.TrustedProxies); err != nil {
		bad("--trusted-proxies: %v", err)
	}
	if c.Redis != "" && !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") {
		bad("--redis %q: want a redis:// or rediss:// URL", c.Redis)
	}
	if c.EgressTimeout < 100*time.Millisecond || c.EgressTimeout > time.Minute {
		bad("--egress-timeout %s: want between 100ms and 1m", c.EgressTimeout)
	}
	if c.DenyListRefresh < 100*time.Millisecond || c.DenyListRefresh > time.Minute {
		bad("--deny-list-refresh %s: want between 100ms and 1m", c.DenyListRefresh)
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > time.Minute {
		bad("--refresh-grace %s: want between 0 and 1m", c.RefreshGrace)
	}
	if c.RefreshFamilyLifetime < time.Hour || c.RefreshFamilyLifetime > 365*24*time.Hour {
		bad("--refresh-family-lifetime %s: want between 1h and 8760h", c.RefreshFamilyLifetime)
	}
	if c.KeyReload < 100*time.Millisecond || c.KeyReload > 5*time.Minute {
		bad("--key-reload %s: want between 100ms and 5m", c.KeyReload)
	}
	if c.KeyPublishAhead < 0 || c.KeyPublishAhead > 24*time.Hour {
		bad("--key-publish-ahead %s: want between 0 and 24h", c.KeyPublishAhead)
	} else if c.KeyPublishAhead > 0 && c.KeyPublishAhead <= c.KeyReload {
		bad("--key-publish-ahead %s: want more than --key-reload (%s), or a replica may sign with a key the others have not loaded", c.KeyPublishAhead, c.KeyReload)
	}
	if c.KeyRotateEvery != 0 && (c.KeyRotateEvery < time.Minute || c.KeyRotateEvery <= c.KeyPublishAhead) {
		bad("--key-rotate-every %s: want 0 (off), or at least 1m and more than --key-publish-ahead", c.KeyRotateEvery)
	}
	if c.StoreTimeout < 100*time.Millisecond || c.StoreTimeout > time.Minute {
		bad("--store-timeout %s: want between 100ms and 1m", c.StoreTimeout)
	}
	if c.PurgeEvery < 100*time.Millisecond || c.PurgeEvery > time.Hour {
		bad("--purge-every %s: want between 100ms and 1h", c.PurgeEvery)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("--log-format %q: want text or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

// ReadMasterKey returns the master key from the setting or the file.
func (c *Config) ReadMasterKey() (string, error) {
	if c.MasterKeyFile == "" {
		return c.MasterKey, nil
	}
	b, err := os.ReadFile(c.MasterKeyFile)
	if err != nil {
		return "", fmt.Errorf("master key file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
