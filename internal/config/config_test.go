package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	c := Default()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Flags(fs)
	err := Parse(fs, args, func(k string) string { return env[k] })
	c.Finish()
	return c, err
}

func TestEnvAndFlags(t *testing.T) {
	c, err := parse(t, []string{"--admin-addr", "127.0.0.1:9999"}, map[string]string{
		"GATEHOUSE_ADMIN_ADDR": "127.0.0.1:7777", "GATEHOUSE_ACCESS_TOKEN_TTL": "2h", "GATEHOUSE_DEV": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	// A flag on the command line wins over the environment.
	if c.AdminAddr != "127.0.0.1:9999" || c.AccessTokenTTL != 2*time.Hour || !c.Dev {
		t.Fatalf("%+v", c)
	}
	if c.Issuer != "http://127.0.0.1:8080" || c.DB != "sqlite:gatehouse-data/gatehouse.db" {
		t.Fatalf("derived defaults: issuer %q db %q", c.Issuer, c.DB)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("dev defaults are valid: %v", err)
	}
	if _, err := parse(t, nil, map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "soon"}); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_ACCESS_TOKEN_TTL") {
		t.Fatalf("bad env value: %v", err)
	}
}

// Validate lists every bad setting at once.
func TestValidateListsEverything(t *testing.T) {
	c, _ := parse(t, []string{"--addr", "nonsense", "--db", "mysql://x", "--issuer", "http://auth.example.com",
		"--tls-cert", "c.pem", "--signing-alg", "HS256", "--access-token-ttl", "1s", "--trusted-proxies", "10.0.0.0/99",
		"--log-level", "loud", "--log-format", "xml", "--master-key", "k", "--master-key-file", "f"}, nil)
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--addr", "--db", "must be https", "--tls-cert and --tls-key", "--signing-alg", "--access-token-ttl",
		"--trusted-proxies", "--log-level", "--log-format", "not both"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	c, _ = parse(t, nil, nil)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--issuer is required") || !strings.Contains(err.Error(), "master key is required") {
		t.Fatalf("production without issuer and key: %v", err)
	}
}

func TestEnvName(t *testing.T) {
	if EnvName("master-key-file") != "GATEHOUSE_MASTER_KEY_FILE" {
		t.Fatal(EnvName("master-key-file"))
	}
}
