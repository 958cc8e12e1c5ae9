package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envNames lists the env tags of Config, in field order.
func envNames() []string {
	var names []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if n := t.Field(i).Tag.Get("env"); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// clearEnv keeps the test's environment (REDIS_URL in CI, say) out of Load.
func clearEnv(t *testing.T) {
	for _, n := range envNames() {
		t.Setenv(n, "")
	}
}

const secret = "0123456789abcdef0123456789abcdef"

func TestEnvNames(t *testing.T) {
	want := []string{"SIPBUS_REGISTRAR_ID", "SIPBUS_NATS_URL", "REDIS_URL", "SIPBUS_DOMAINS", "SIPBUS_REGISTRAR_AUTH",
		"SIPBUS_AUTH_SECRET", "SIPBUS_REGISTRAR_AUTH_ALGORITHMS", "SIPBUS_REGISTRAR_AUTH_SHA256_DOMAINS", "SIPBUS_REGISTRAR_AUTH_SHA256_USER_AGENTS",
		"SIPBUS_REGISTRAR_AUTH_FAIL_WINDOW", "SIPBUS_REGISTRAR_AUTH_FAIL_PER_USER", "SIPBUS_REGISTRAR_AUTH_FAIL_PER_SOURCE", "SIPBUS_REGISTRAR_AUTH_FAIL_BLOCK",
		"SIPBUS_REGISTRAR_NONCE_TTL", "SIPBUS_REGISTRAR_MIN_EXPIRES", "SIPBUS_REGISTRAR_MAX_EXPIRES",
		"SIPBUS_REGISTRAR_DEFAULT_EXPIRES", "SIPBUS_REGISTRAR_MAX_CONTACTS", "SIPBUS_REGISTRAR_EXPIRY_SCAN",
		"SIPBUS_REGISTRAR_WORKERS"}
	if got := envNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("env tags %v\nwant      %v", got, want)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	want := Config{ID: c.ID, NATS: "nats://127.0.0.1:4222", Auth: "required", AuthAlgorithms: []string{"MD5"},
		AuthFailWindow: time.Minute, AuthFailPerUser: 10, AuthFailPerSource: 100, AuthFailBlock: 10 * time.Minute, NonceTTL: 5 * time.Minute,
		MinExpires: 60 * time.Second, MaxExpires: time.Hour, DefaultExpires: time.Hour, MaxContacts: 10,
		ExpiryScan: time.Second, Workers: 64}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v\nwant        %+v", c, want)
	}
	if !idRE.MatchString(c.ID) {
		t.Errorf("default id %q is not a valid id", c.ID)
	}
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "domains: required when auth is \"required\"") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Default().Validate() = %v; want only domains: required", err)
	}
	c.Domains = []string{"example.com"}
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() with domains: %v", err)
	}
	off := Default()
	off.Auth = "OFF"
	if err := off.Validate(); err != nil || off.Auth != AuthOff || off.AuthOn() {
		t.Errorf("auth off without domains: %v (auth %q)", err, off.Auth)
	}
}

func TestValidateDomains(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"lower case, no repeats", []string{" Example.COM", "example.com", "b.example"}, []string{"example.com", "b.example"}},
		{"IPv4", []string{"192.0.2.1"}, []string{"192.0.2.1"}},
		{"IPv6 bare", []string{"2001:DB8::1"}, []string{"[2001:db8::1]"}},
		{"IPv6 bracketed", []string{"[2001:db8::0:1]"}, []string{"[2001:db8::1]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Domains = tc.in
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Domains, tc.want) {
				t.Errorf("domains %q, want %q", c.Domains, tc.want)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"id empty", func(c *Config) { c.ID = "" }, `id: "": want 1-64 characters`},
		{"id with a dot", func(c *Config) { c.ID = "reg.1" }, `id: "reg.1"`},
		{"nats empty", func(c *Config) { c.NATS = "" }, "nats: required"},
		{"nats scheme", func(c *Config) { c.NATS = "nats://a:4222,http://u:s3cret@b:4222" }, `nats: URL 2: scheme "http"`},
		{"redis scheme", func(c *Config) { c.Redis = "mysql://u:s3cret@db" }, `redis: scheme "mysql"`},
		{"redis without scheme", func(c *Config) { c.Redis = "localhost:6379" }, "redis: no scheme"},
		{"domains missing", func(c *Config) { c.Domains = nil }, `domains: required when auth is "required"`},
		{"domain with port", func(c *Config) { c.Domains = []string{"example.com:5060"} }, `domains: "example.com:5060" is not a host name`},
		{"domain IPv6 with port", func(c *Config) { c.Domains = []string{"[::1]:5060"} }, `domains: "[::1]:5060" is not a host name`},
		{"domain as URI", func(c *Config) { c.Domains = []string{"sip:example.com"} }, `domains: "sip:example.com"`},
		{"domain as AOR", func(c *Config) { c.Domains = []string{"alice@example.com"} }, `domains: "alice@example.com"`},
		{"domain with space", func(c *Config) { c.Domains = []string{"ex ample.com"} }, `domains: "ex ample.com"`},
		{"auth unknown", func(c *Config) { c.Auth = "maybe" }, `auth: "maybe": want "required" or "off"`},
		{"secret short", func(c *Config) { c.AuthSecret = "s3cret" }, "auth_secret: 6 bytes: must be at least 16"},
		{"algorithm unknown", func(c *Config) { c.AuthAlgorithms = []string{"SHA-512-256"} }, `auth_algorithms: "SHA-512-256": want SHA-256 or MD5`},
		{"algorithm twice", func(c *Config) { c.AuthAlgorithms = []string{"MD5", "md5"} }, `auth_algorithms: "md5" is listed twice`},
		{"sha256 domain not local", func(c *Config) { c.AuthSHA256Domains = []string{"other.example"} }, `auth_sha256_domains: "other.example" is not one of domains`},
		{"sha256 domain with port", func(c *Config) { c.AuthSHA256Domains = []string{"example.com:5060"} }, `auth_sha256_domains: "example.com:5060" is not a host name`},
		{"sha256 user agent regexp", func(c *Config) { c.AuthSHA256UserAgents = []string{"^Linphone", "Zoiper ("} }, `auth_sha256_user_agents: [1] "Zoiper (": error parsing regexp`},
		{"auth_fail_per_user negative", func(c *Config) { c.AuthFailPerUser = -1 }, "auth_fail_per_user: -1: must be 0 (off) or more"},
		{"auth_fail_per_source negative", func(c *Config) { c.AuthFailPerSource = -5 }, "auth_fail_per_source: -5: must be 0 (off) or more"},
		{"auth_fail_window zero", func(c *Config) { c.AuthFailWindow = 0 }, "auth_fail_window: must be positive"},
		{"auth_fail_block negative", func(c *Config) { c.AuthFailBlock = -time.Minute }, "auth_fail_block: must be positive"},
		{"auth_fail_block fraction", func(c *Config) { c.AuthFailBlock = 1500 * time.Microsecond }, "auth_fail_block: 1.5ms: must be whole milliseconds"},
		{"nonce_ttl zero", func(c *Config) { c.NonceTTL = 0 }, "nonce_ttl: must be positive"},
		{"min_expires zero", func(c *Config) { c.MinExpires = 0 }, "min_expires: must be positive"},
		{"min_expires long", func(c *Config) {
			c.MinExpires = 2 * time.Hour
			c.MaxExpires = 3 * time.Hour
			c.DefaultExpires = 3 * time.Hour
		}, "min_expires: 2h0m0s: must be at most 1h"},
		{"min_expires fraction", func(c *Config) { c.MinExpires = 1500 * time.Millisecond }, "min_expires: 1.5s: must be whole seconds"},
		{"max below min", func(c *Config) { c.MaxExpires = 30 * time.Second }, "max_expires: must be >= min_expires (30s < 1m0s)"},
		{"max too long", func(c *Config) { c.MaxExpires = 1 << 33 * time.Second }, "max_expires: "},
		{"default outside", func(c *Config) { c.DefaultExpires = 2 * time.Hour }, "default_expires: 2h0m0s: must be between min_expires"},
		{"max_contacts negative", func(c *Config) { c.MaxContacts = -1 }, "max_contacts: -1: must be 0 (unlimited) or more"},
		{"expiry_scan zero", func(c *Config) { c.ExpiryScan = 0 }, "expiry_scan: must be positive"},
		{"expiry_scan long", func(c *Config) { c.ExpiryScan = time.Hour }, "expiry_scan: 1h0m0s: must be less than 10m0s"},
		{"workers zero", func(c *Config) { c.Workers = 0 }, "workers: must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Domains = []string{"example.com"}
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestAuthFailLimits(t *testing.T) {
	c := Default()
	l := c.AuthFailLimits()
	if l.Window != time.Minute || l.PerUser != 10 || l.PerSource != 100 || l.Block != 10*time.Minute || l.Validate() != nil {
		t.Errorf("default limits %+v", l)
	}
	c.AuthFailPerUser, c.AuthFailPerSource = 0, 0
	if c.AuthFailLimits().On() {
		t.Error("limits 0 and 0 are on")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{ID: "a b", MaxContacts: -1}
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config validated")
	}
	for _, key := range []string{"id:", "nats:", "domains:", "auth_fail_window:", "auth_fail_block:", "nonce_ttl:", "min_expires:", "max_expires:", "default_expires:",
		"max_contacts:", "expiry_scan:", "workers:"} {
		if !strings.Contains(err.Error(), "\n"+key) && !strings.HasPrefix(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	c := Default()
	c.AuthSecret = secret
	c.Redis = "redis://u:redispw@r:6379/0"
	c.NATS = "nats://u:natspw@n:4222"
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String(), logged.String()} {
		for _, s := range []string{secret, "redispw", "natspw"} {
			if strings.Contains(out, s) {
				t.Errorf("printed %q: %s", s, out)
			}
		}
	}
	if !strings.Contains(c.String(), "AuthSecret:[redacted]") {
		t.Errorf("String does not say the secret is set: %s", c)
	}
}

func TestLoadSample(t *testing.T) {
	clearEnv(t)
	c, err := Load(filepath.Join("testdata", "registrar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ID: "registrar-1", NATS: "nats://nats-1:4222,nats://nats-2:4222", Redis: "redis://redis:6379/0",
		Domains: []string{"example.com", "Example.ORG", "2001:DB8::1"}, Auth: "required", AuthSecret: secret,
		AuthAlgorithms: []string{"MD5"}, AuthSHA256Domains: []string{"Example.ORG"}, AuthSHA256UserAgents: []string{`^Linphone`, `(?i)zoiper`},
		AuthFailWindow: 2 * time.Minute, AuthFailPerUser: 20, AuthFailPerSource: 200, AuthFailBlock: 30 * time.Minute,
		NonceTTL: 5 * time.Minute, MinExpires: time.Minute, MaxExpires: 2 * time.Hour, DefaultExpires: time.Hour,
		MaxContacts: 5, ExpiryScan: 2 * time.Second, Workers: 32,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("loaded %+v\nwant   %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Domains, []string{"example.com", "example.org", "[2001:db8::1]"}) {
		t.Errorf("normalized domains %q", c.Domains)
	}
	if !reflect.DeepEqual(c.AuthSHA256Domains, []string{"example.org"}) {
		t.Errorf("normalized SHA-256 domains %q", c.AuthSHA256Domains)
	}
}

func TestDocSample(t *testing.T) {
	clearEnv(t)
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	// The first indented block of the package doc is a config file.
	var sample strings.Builder
	for line := range strings.Lines(string(doc)) {
		if strings.HasPrefix(line, "//\t") {
			sample.WriteString(strings.TrimPrefix(line, "//\t"))
		} else if sample.Len() > 0 {
			break
		}
	}
	path := filepath.Join(t.TempDir(), "registrar.yaml")
	if err := os.WriteFile(path, []byte(sample.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("doc.go sample: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("doc.go sample: %v", err)
	}
	if c.ID != "registrar-1" || len(c.Domains) != 2 {
		t.Errorf("doc.go sample decoded to %+v", c)
	}
}

func TestReadmeSample(t *testing.T) {
	clearEnv(t)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The first ```yaml block of the README is a config file.
	_, rest, ok := strings.Cut(string(readme), "```yaml\n")
	if !ok {
		t.Fatal("README.md has no ```yaml block")
	}
	sample, _, _ := strings.Cut(rest, "```")
	path := filepath.Join(t.TempDir(), "registrar.yaml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("README sample: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("README sample: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"unknown key", "id: r1\nmax_contact: 3\n", `c.yaml:2: unknown key "max_contact"`},
		{"unknown keys all reported", "idd: x\nnonce_ttl: 1m\nworker: 3\n", `c.yaml:1: unknown key "idd"` + "\n" + `c.yaml:3: unknown key "worker"`},
		{"duration without unit", "min_expires: 60\n", "c.yaml:1: cannot unmarshal !!int `60` into time.Duration"},
		{"bad duration", "nonce_ttl: soon\n", "c.yaml:1: cannot unmarshal !!str `soon` into time.Duration"},
		{"domains not a list", "domains: {a: b}\n", "c.yaml:1: cannot unmarshal !!map into []string"},
		{"workers text", "\nworkers: many\n", "c.yaml:2: cannot unmarshal !!str `many` into int"},
		{"syntax", "id: [r1\n", "c.yaml:1: did not find expected"},
		{"second document", "id: a\n---\nid: b\n", "c.yaml:2: a second YAML document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.in), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load = nil; want %q", tc.want)
			}
			for w := range strings.Lines(tc.want) {
				if !strings.Contains(err.Error(), strings.TrimSuffix(w, "\n")) {
					t.Errorf("Load = %v; want %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("error does not start with the file: %v", err)
			}
		})
	}
}

func TestLoadEmptyAndMissing(t *testing.T) {
	clearEnv(t)
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte("# nothing yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(empty)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load(empty) = %+v, %v; want Default()", c, err)
	}
	if c, err := Load(""); err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf(`Load("") = %+v, %v; want Default()`, c, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		"SIPBUS_REGISTRAR_ID": "reg-7", "SIPBUS_NATS_URL": "nats://n:4222", "REDIS_URL": "redis://r:6379",
		"SIPBUS_DOMAINS": " a.example, b.example ,", "SIPBUS_REGISTRAR_AUTH": "off", "SIPBUS_AUTH_SECRET": secret,
		"SIPBUS_REGISTRAR_NONCE_TTL": "2m", "SIPBUS_REGISTRAR_MIN_EXPIRES": "30s", "SIPBUS_REGISTRAR_MAX_EXPIRES": "2h",
		"SIPBUS_REGISTRAR_DEFAULT_EXPIRES": "1h", "SIPBUS_REGISTRAR_MAX_CONTACTS": "0", "SIPBUS_REGISTRAR_EXPIRY_SCAN": "500ms",
		"SIPBUS_REGISTRAR_WORKERS": "8", "SIPBUS_REGISTRAR_AUTH_ALGORITHMS": "MD5,SHA-256",
		"SIPBUS_REGISTRAR_AUTH_SHA256_DOMAINS": "b.example", "SIPBUS_REGISTRAR_AUTH_SHA256_USER_AGENTS": "^Linphone/5, MicroSIP",
		"SIPBUS_REGISTRAR_AUTH_FAIL_WINDOW": "30s", "SIPBUS_REGISTRAR_AUTH_FAIL_PER_USER": "5", "SIPBUS_REGISTRAR_AUTH_FAIL_PER_SOURCE": "0",
		"SIPBUS_REGISTRAR_AUTH_FAIL_BLOCK": "1h",
	}
	c := Default()
	if err := c.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := Config{ID: "reg-7", NATS: "nats://n:4222", Redis: "redis://r:6379", Domains: []string{"a.example", "b.example"},
		Auth: "off", AuthSecret: secret, AuthAlgorithms: []string{"MD5", "SHA-256"}, AuthSHA256Domains: []string{"b.example"},
		AuthSHA256UserAgents: []string{"^Linphone/5", "MicroSIP"}, AuthFailWindow: 30 * time.Second, AuthFailPerUser: 5, AuthFailPerSource: 0,
		AuthFailBlock: time.Hour, NonceTTL: 2 * time.Minute, MinExpires: 30 * time.Second, MaxExpires: 2 * time.Hour,
		DefaultExpires: time.Hour, MaxContacts: 0, ExpiryScan: 500 * time.Millisecond, Workers: 8}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("FromEnv = %+v\nwant      %+v", c, want)
	}
	bad := map[string]string{"SIPBUS_REGISTRAR_NONCE_TTL": "5", "SIPBUS_REGISTRAR_WORKERS": "x"}
	err := c.FromEnv(func(k string) string { return bad[k] })
	if err == nil || !strings.Contains(err.Error(), "SIPBUS_REGISTRAR_NONCE_TTL") || !strings.Contains(err.Error(), "SIPBUS_REGISTRAR_WORKERS") {
		t.Errorf("FromEnv(bad) = %v", err)
	}
}

func TestLoadEnvOverridesFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("SIPBUS_REGISTRAR_MAX_CONTACTS", "3")
	c, err := Load(filepath.Join("testdata", "registrar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxContacts != 3 || c.ID != "registrar-1" {
		t.Errorf("env did not override the file: %+v", c)
	}
}
