package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/confload"
)

const secret = "0123456789abcdef0123456789abcdef"

func TestDefault(t *testing.T) {
	c := Default()
	want := Config{Auth: "required", AuthAlgorithms: []string{"MD5"},
		AuthFailWindow: time.Minute, AuthFailPerUser: 10, AuthFailPerSource: 100, AuthFailBlock: 10 * time.Minute, NonceTTL: 5 * time.Minute,
		MinExpires: 60 * time.Second, MaxExpires: time.Hour, DefaultExpires: time.Hour, MaxContacts: 10,
		ExpiryScan: time.Second, Workers: 256}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v\nwant        %+v", c, want)
	}
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "domains: required when auth is \"required\"") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Default().Validate() = %v; want only domains: required", err)
	}
	if !idRE.MatchString(c.ID) || c.ID != hostID() {
		t.Errorf("default id %q: want the host name, a valid id", c.ID)
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
		{"id with a space", func(c *Config) { c.ID = "reg 1" }, `id: "reg 1": want 1-64 characters`},
		{"id with a dot", func(c *Config) { c.ID = "reg.1" }, `id: "reg.1"`},
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
	for _, key := range []string{"id:", "domains:", "auth_fail_window:", "auth_fail_block:", "nonce_ttl:", "min_expires:", "max_expires:", "default_expires:",
		"max_contacts:", "expiry_scan:", "workers:"} {
		if !strings.Contains(err.Error(), "\n"+key) && !strings.HasPrefix(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	c := Default()
	c.AuthSecret = secret
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String(), logged.String()} {
		for _, s := range []string{secret} {
			if strings.Contains(out, s) {
				t.Errorf("printed %q: %s", s, out)
			}
		}
	}
	if !strings.Contains(c.String(), "AuthSecret:[redacted]") {
		t.Errorf("String does not say the secret is set: %s", c)
	}
}

func TestDocSample(t *testing.T) {
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
	c := Default()
	if err := confload.Decode([]byte(sample.String()), "doc.go", &c); err != nil {
		t.Fatalf("doc.go sample: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("doc.go sample: %v", err)
	}
	if c.ID != "registrar-1" || len(c.Domains) != 2 {
		t.Errorf("doc.go sample decoded to %+v", c)
	}
}
