package registrar_test

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/service/servicetest"
	"github.com/sipbus/sipbus/services/registrar"
)

type regCase = servicetest.Case[registrar.Config]

var cfgOf = servicetest.Field[registrar.Config, any]

const testSecret = "0123456789abcdef0123456789abcdef"

// TestSpecShape: every setting of the registrar reaches its field as a
// flag, a file key and a variable, with the precedence file < variable <
// flag; auth_secret has no flag.
func TestSpecShape(t *testing.T) {
	base := map[string]string{"redis": `"redis://127.0.0.1:1"`, "domains": `[example.com, example.org]`}
	servicetest.Shape(t, registrar.Spec, base, []regCase{
		{Key: "id", Value: "reg-7", Other: "reg-8", Get: cfgOf(func(c *registrar.Config) any { return c.ID }), Want: "reg-7"},
		{Key: "domains", Value: "A.example, b.example", Other: "c.example", Get: cfgOf(func(c *registrar.Config) any { return c.Domains }), Want: []string{"a.example", "b.example"}},
		{Key: "auth", Value: "off", Other: "required", Get: cfgOf(func(c *registrar.Config) any { return c.Auth }), Want: "off"},
		{Key: "auth_secret", Value: testSecret, Other: "fedcba9876543210fedcba9876543210", Get: cfgOf(func(c *registrar.Config) any { return c.AuthSecret }), Want: testSecret},
		{Key: "auth_algorithms", Value: "sha-256,MD5", Other: "MD5", Get: cfgOf(func(c *registrar.Config) any { return c.AuthAlgorithms }), Want: []string{"SHA-256", "MD5"}},
		{Key: "auth_sha256_domains", Value: "example.org", Other: "example.com", Get: cfgOf(func(c *registrar.Config) any { return c.AuthSHA256Domains }), Want: []string{"example.org"}},
		{Key: "auth_sha256_user_agents", Value: "^Linphone/5, (?i)zoiper", Other: "MicroSIP", YAML: `['^Linphone/5', '(?i)zoiper']`,
			Get: cfgOf(func(c *registrar.Config) any { return c.AuthSHA256UserAgents }), Want: []string{"^Linphone/5", "(?i)zoiper"}},
		{Key: "auth_fail_window", Value: "2m", Other: "30s", Get: cfgOf(func(c *registrar.Config) any { return c.AuthFailWindow }), Want: 2 * time.Minute},
		{Key: "auth_fail_per_user", Value: "20", Other: "5", Get: cfgOf(func(c *registrar.Config) any { return c.AuthFailPerUser }), Want: 20},
		{Key: "auth_fail_per_source", Value: "0", Other: "50", Get: cfgOf(func(c *registrar.Config) any { return c.AuthFailPerSource }), Want: 0},
		{Key: "auth_fail_block", Value: "30m", Other: "1h", Get: cfgOf(func(c *registrar.Config) any { return c.AuthFailBlock }), Want: 30 * time.Minute},
		{Key: "nonce_ttl", Value: "2m", Other: "10m", Get: cfgOf(func(c *registrar.Config) any { return c.NonceTTL }), Want: 2 * time.Minute},
		{Key: "min_expires", Value: "30s", Other: "2m", Get: cfgOf(func(c *registrar.Config) any { return c.MinExpires }), Want: 30 * time.Second},
		{Key: "max_expires", Value: "2h", Other: "90m", Get: cfgOf(func(c *registrar.Config) any { return c.MaxExpires }), Want: 2 * time.Hour},
		{Key: "default_expires", Value: "30m", Other: "20m", Get: cfgOf(func(c *registrar.Config) any { return c.DefaultExpires }), Want: 30 * time.Minute},
		{Key: "max_contacts", Value: "0", Other: "3", Get: cfgOf(func(c *registrar.Config) any { return c.MaxContacts }), Want: 0},
		{Key: "expiry_scan", Value: "500ms", Other: "2s", Get: cfgOf(func(c *registrar.Config) any { return c.ExpiryScan }), Want: 500 * time.Millisecond},
		{Key: "workers", Value: "8", Other: "16", Get: cfgOf(func(c *registrar.Config) any { return c.Workers }), Want: 8},
	})
	fields, _ := service.Settings(registrar.Spec)
	names := map[string]service.Field{}
	for _, f := range fields {
		names[f.Key] = f
	}
	for key, want := range map[string]service.Field{
		"domains":     {Flag: "domains", Env: "SIPBUS_DOMAINS"},
		"auth":        {Flag: "auth", Env: "SIPBUS_REGISTRAR_AUTH"},
		"auth_secret": {Env: "SIPBUS_AUTH_SECRET"},
		"min_expires": {Flag: "min-expires", Env: "SIPBUS_REGISTRAR_MIN_EXPIRES"},
		"redis":       {Flag: "redis", Env: "SIPBUS_REDIS_URL"},
	} {
		if f := names[key]; f.Flag != want.Flag || f.Env != want.Env {
			t.Errorf("%s: flag %q env %q, want flag %q env %q", key, f.Flag, f.Env, want.Flag, want.Env)
		}
	}
	if !names["auth_secret"].Secret {
		t.Error("auth_secret is not a secret")
	}
}

// TestSpecReadme: the README's settings table is the code's.
func TestSpecReadme(t *testing.T) {
	servicetest.Readme(t, registrar.Spec, "README.md")
}

func load(args []string, env map[string]string) (service.Common, registrar.Config, error) {
	return service.Load(registrar.Spec, args, service.IO{Getenv: func(k string) string { return env[k] }, Stderr: io.Discard})
}

// TestSpecSample loads testdata/registrar.yaml, which has every key, and
// the README's sample; Validate normalizes.
func TestSpecSample(t *testing.T) {
	com, c, err := load([]string{"--config", filepath.Join("testdata", "registrar.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := registrar.Config{
		ID: "registrar-1", Domains: []string{"example.com", "example.org", "[2001:db8::1]"}, Auth: "required", AuthSecret: testSecret,
		AuthAlgorithms: []string{"MD5"}, AuthSHA256Domains: []string{"example.org"}, AuthSHA256UserAgents: []string{`^Linphone`, `(?i)zoiper`},
		AuthFailWindow: 2 * time.Minute, AuthFailPerUser: 20, AuthFailPerSource: 200, AuthFailBlock: 30 * time.Minute,
		NonceTTL: 5 * time.Minute, MinExpires: time.Minute, MaxExpires: 2 * time.Hour, DefaultExpires: time.Hour,
		MaxContacts: 5, ExpiryScan: 2 * time.Second, Workers: 32,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("loaded %v\nwant   %v", c, want)
	}
	if c.AuthSecret != testSecret {
		t.Error("the file's auth_secret was not loaded")
	}
	wantCom := service.Common{NATS: "nats://nats-1:4222,nats://nats-2:4222", Redis: "redis://redis:6379/0", StreamReplicas: 3,
		HTTP: "0.0.0.0:8080", LogLevel: "warn", LogFormat: "text", Shutdown: 20 * time.Second}
	if com != wantCom {
		t.Errorf("common %+v\nwant   %+v", com, wantCom)
	}

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The first ```yaml block of the README is a settings file.
	_, rest, ok := strings.Cut(string(readme), "```yaml\n")
	if !ok {
		t.Fatal("README.md has no ```yaml block")
	}
	sample, _, _ := strings.Cut(rest, "```")
	path := filepath.Join(t.TempDir(), "registrar.yaml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := load([]string{"--config", path}, nil); err != nil {
		t.Errorf("README sample: %v", err)
	}
}

// TestSpecErrors: bad settings are usage errors naming the key, flag,
// variable or file line; the auth secret is never quoted.
func TestSpecErrors(t *testing.T) {
	file := func(s string) string { return servicetest.File(t, s) }
	r, d := "--redis=redis://127.0.0.1:1", "--domains=example.com"
	servicetest.Errors(t, registrar.Spec, []servicetest.ErrCase{
		{Name: "domains required", Args: []string{r}, Want: []string{`domains: required when auth is "required"`}},
		{Name: "auth off needs no domains", Args: []string{r, "--auth=off", "--workers=0"}, Want: []string{"workers: must be positive"}},
		{Name: "redis required", Args: []string{d}, Want: []string{"redis (--redis, SIPBUS_REDIS_URL): required"}},
		{Name: "secret short", Args: []string{r, d}, Env: map[string]string{"SIPBUS_AUTH_SECRET": "s3cret"}, Want: []string{"auth_secret: 6 bytes: must be at least 16"}},
		{Name: "secret has no flag", Args: []string{r, d, "--auth-secret=" + testSecret}, Want: []string{"flag provided but not defined: -auth-secret"}},
		{Name: "sha256 domain not local", Args: []string{r, d, "--auth-sha256-domains=other.example"}, Want: []string{`auth_sha256_domains: "other.example" is not one of domains`}},
		{Name: "sha256 user agent regexp", Args: []string{r, d}, Env: map[string]string{"SIPBUS_REGISTRAR_AUTH_SHA256_USER_AGENTS": "Zoiper ("}, Want: []string{`auth_sha256_user_agents: [0] "Zoiper ("`}},
		{Name: "duration flag", Args: []string{r, d, "--min-expires=60"}, Want: []string{"--min-expires", `"60" is not a duration`}},
		{Name: "int variable", Args: []string{r, d}, Env: map[string]string{"SIPBUS_REGISTRAR_WORKERS": "many"}, Want: []string{"SIPBUS_REGISTRAR_WORKERS", `"many" is not an integer`}},
		{Name: "max below min", Args: []string{r, d, "--max-expires=30s"}, Want: []string{"max_expires: must be >= min_expires"}},
		{Name: "unknown key", Args: []string{r, d, "--config", file("id: r1\nmax_contact: 3\n")}, Want: []string{`c.yaml:2: unknown key "max_contact"`}},
		{Name: "workers text", Args: []string{r, d, "--config", file("\nworkers: many\n")}, Want: []string{"c.yaml:2", "int"}},
		{Name: "old variable names are gone", Args: []string{d}, Env: map[string]string{"REDIS_URL": "redis://127.0.0.1:1"}, Want: []string{"redis (--redis, SIPBUS_REDIS_URL): required"}},
	})
}
