package config

import (
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

func TestEnvNames(t *testing.T) {
	want := []string{"SIPBUS_TM_ID", "SIPBUS_NATS_URL", "REDIS_URL", "SIPBUS_ADVERTISE", "SIPBUS_ADVERTISE_TCP", "SIPBUS_ADVERTISE_TLS",
		"SIPBUS_ADVERTISE_WS", "SIPBUS_ADVERTISE_WSS", "SIPBUS_FLOW_SECRET", "SIPBUS_DOMAINS", "SIPBUS_ROUTES",
		"SIPBUS_T1", "SIPBUS_T2", "SIPBUS_T4", "SIPBUS_NO_ANSWER", "SIPBUS_TM_QUEUE_TARGET", "SIPBUS_TM_QUEUE_INTERVAL",
		"SIPBUS_TM_COALESCE", "SIPBUS_ALIASES", "SIPBUS_RESOLVER", "SIPBUS_RESOLVER_TIMEOUT", "SIPBUS_FAILOVER_TIMEOUT"}
	if got := envNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("env tags %v\nwant      %v", got, want)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	want := Config{ID: c.ID, NATS: "nats://127.0.0.1:4222", T1: 500 * time.Millisecond, T2: 4 * time.Second,
		T4: 5 * time.Second, NoAnswer: 60 * time.Second, QueueTarget: 50 * time.Millisecond,
		QueueInterval: 100 * time.Millisecond, Coalesce: 20 * time.Millisecond,
		ResolverTimeout: 2 * time.Second, FailoverTimeout: 5 * time.Second}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v\nwant        %+v", c, want)
	}
	if !idRE.MatchString(c.ID) {
		t.Errorf("default id %q is not a valid id", c.ID)
	}
	if err := c.Validate(); err == nil || err.Error() != "advertise: required" {
		t.Errorf("Default().Validate() = %v; want only advertise: required", err)
	}
	c.Advertise = "192.0.2.1:5060"
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() with advertise: %v", err)
	}
	if !reflect.DeepEqual(c.Domains, []string{"localhost", "192.0.2.1"}) {
		t.Errorf("default domains %q", c.Domains)
	}
}

func TestValidateDomains(t *testing.T) {
	tests := []struct {
		name      string
		advertise string
		domains   []string
		want      []string
	}{
		{"from a host name", "Proxy.Example.com:5060", nil, []string{"localhost", "proxy.example.com"}},
		{"from IPv6", "[2001:DB8::1]:5060", nil, []string{"localhost", "2001:db8::1"}},
		{"localhost once", "localhost:5060", nil, []string{"localhost"}},
		{"given, normalized", "proxy.example.com:5060", []string{" Example.COM", "example.com", "[2001:db8::2]"}, []string{"example.com", "2001:db8::2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Advertise, c.Domains = tc.advertise, tc.domains
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
		{"id with a dot", func(c *Config) { c.ID = "tm.1" }, `id: "tm.1"`},
		{"id too long", func(c *Config) { c.ID = strings.Repeat("a", 65) }, "id: "},
		{"nats empty", func(c *Config) { c.NATS = "" }, "nats: required"},
		{"nats without scheme", func(c *Config) { c.NATS = "127.0.0.1:4222" }, "nats: URL 1 is not scheme://host:port"},
		{"nats scheme", func(c *Config) { c.NATS = "nats://a:4222,http://b:4222" }, `nats: URL 2: scheme "http"`},
		{"nats hides password", func(c *Config) { c.NATS = "http://u:s3cret@a:4222" }, "nats: URL 1: scheme"},
		{"redis scheme", func(c *Config) { c.Redis = "mysql://db" }, `redis: scheme "mysql"`},
		{"redis without scheme", func(c *Config) { c.Redis = "localhost:6379" }, "redis: no scheme"},
		{"advertise missing", func(c *Config) { c.Advertise = "" }, "advertise: required"},
		{"advertise without port", func(c *Config) { c.Advertise = "proxy.example.com" }, "advertise: \"proxy.example.com\" is not host:port"},
		{"advertise port 0", func(c *Config) { c.Advertise = "proxy.example.com:0" }, "advertise: \"proxy.example.com:0\" needs a port 1-65535"},
		{"advertise port text", func(c *Config) { c.Advertise = "proxy.example.com:sip" }, "needs a port 1-65535"},
		{"advertise unspecified", func(c *Config) { c.Advertise = "0.0.0.0:5060" }, "advertise: \"0.0.0.0:5060\": an unspecified address"},
		{"advertise bad host", func(c *Config) { c.Advertise = "a/b:5060" }, "is not a host name or IP address"},
		{"advertise_tls without port", func(c *Config) { c.AdvertiseTLS = "proxy.example.com" }, "advertise_tls: \"proxy.example.com\" is not host:port"},
		{"advertise_ws unspecified", func(c *Config) { c.AdvertiseWS = "0.0.0.0:5066" }, "advertise_ws: \"0.0.0.0:5066\": an unspecified address"},
		{"domain with port", func(c *Config) { c.Domains = []string{"example.com:5060"} }, `domains: "example.com:5060" is not a host name`},
		{"domain as URI", func(c *Config) { c.Domains = []string{"sip:example.com"} }, "domains: \"sip:example.com\""},
		{"t1 zero", func(c *Config) { c.T1 = 0 }, "t1: must be positive"},
		{"t2 below t1", func(c *Config) { c.T2 = 100 * time.Millisecond }, "t2: must be >= t1 (100ms < 500ms)"},
		{"t4 negative", func(c *Config) { c.T4 = -time.Second }, "t4: must be positive"},
		{"no_answer zero", func(c *Config) { c.NoAnswer = 0 }, "no_answer: must be positive"},
		{"queue_target zero", func(c *Config) { c.QueueTarget = 0 }, "queue_target: must be positive"},
		{"coalesce too long", func(c *Config) { c.Coalesce = time.Minute }, "coalesce: must be within 0..1s"},
		{"resolver a name", func(c *Config) { c.Resolver = []string{"dns.example.com"} }, `resolver: "dns.example.com": want an IP address or ip:port`},
		{"resolver port 0", func(c *Config) { c.Resolver = []string{"127.0.0.1:0"} }, `resolver: "127.0.0.1:0"`},
		{"resolver_timeout too short", func(c *Config) { c.ResolverTimeout = time.Millisecond }, "resolver_timeout: must be within 100ms..30s"},
		{"failover_timeout negative", func(c *Config) { c.FailoverTimeout = -time.Second }, "failover_timeout: must be 0 (off) or positive"},
		{"static without domain", func(c *Config) { c.Static = map[string][]string{"alice": {"sip:a@192.0.2.1"}} }, `static: "alice": want user@domain`},
		{"static with scheme", func(c *Config) { c.Static = map[string][]string{"sip:alice@example.com": nil} }, "want user@domain"},
		{"static foreign domain", func(c *Config) { c.Static = map[string][]string{"alice@example.net": nil} }, `static: "alice@example.net": example.net is not one of domains`},
		{"static bad contact", func(c *Config) { c.Static = map[string][]string{"alice@example.com": {"192.0.2.1"}} }, `static: "alice@example.com": sipmsg: bad URI`},
		{"static tel contact", func(c *Config) { c.Static = map[string][]string{"alice@example.com": {"tel:+4930"}} }, "want a sip: or sips: URI"},
		{"static repeated AOR", func(c *Config) {
			c.Static = map[string][]string{"alice@example.com": nil, "alice@EXAMPLE.com": nil}
		}, `repeats "alice@example.com"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Advertise = "proxy.example.com:5060"
			c.Domains = []string{"example.com"}
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a password: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{ID: "a b", T2: -1, Static: map[string][]string{"x": nil}}
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config validated")
	}
	for _, key := range []string{"id:", "nats:", "advertise:", "t1:", "t2:", "t4:", "no_answer:", "queue_target:", "static:"} {
		if !strings.Contains(err.Error(), "\n"+key) && !strings.HasPrefix(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

func TestLoadSample(t *testing.T) {
	clearEnv(t)
	c, err := Load(filepath.Join("testdata", "tm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ID: "tm-1", NATS: "nats://nats-1:4222,nats://nats-2:4222", Redis: "redis://redis:6379/0",
		Advertise: "proxy.example.com:5060", Domains: []string{"example.com", "Example.ORG"},
		AdvertiseTLS: "proxy.example.com:5061", AdvertiseWSS: "proxy.example.com:443", FlowSecret: "change-me",
		Routes: "/etc/sipbus/routes.yaml", T1: 500 * time.Millisecond, T2: 4 * time.Second, T4: 5 * time.Second,
		NoAnswer: 90 * time.Second, QueueTarget: 50 * time.Millisecond, QueueInterval: 100 * time.Millisecond,
		Coalesce: 20 * time.Millisecond, Resolver: []string{"10.0.0.2", "10.0.0.3:5353"},
		ResolverTimeout: 1500 * time.Millisecond, FailoverTimeout: 3 * time.Second,
		Static: map[string][]string{
			"alice@example.com": {"sip:alice@192.0.2.21:5060"},
			"bob@EXAMPLE.org":   {"sip:bob@192.0.2.22:5060;transport=tcp", "sips:bob@bob.example.org"},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("loaded %+v\nwant   %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Domains, []string{"example.com", "example.org"}) {
		t.Errorf("normalized domains %q", c.Domains)
	}
	if _, ok := c.Static["bob@example.org"]; !ok || len(c.Static) != 2 {
		t.Errorf("normalized static %q", c.Static)
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
	path := filepath.Join(t.TempDir(), "tm.yaml")
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
	if c.ID != "tm-1" || len(c.Static) != 1 {
		t.Errorf("doc.go sample decoded to %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"unknown key", "id: tm-1\nadvertize: a:5060\n", `c.yaml:2: unknown key "advertize"`},
		{"unknown keys all reported", "idd: x\nt1: 1s\nworker: 3\n", `c.yaml:1: unknown key "idd"` + "\n" + `c.yaml:3: unknown key "worker"`},
		{"duration without unit", "t1: 500\n", "c.yaml:1: cannot unmarshal !!int `500` into time.Duration"},
		{"bad duration", "no_answer: soon\n", "c.yaml:1: cannot unmarshal !!str `soon` into time.Duration"},
		{"domains not a list", "domains: {a: b}\n", "c.yaml:1: cannot unmarshal !!map into []string"},
		{"queue_target text", "\nqueue_target: soon\n", "queue_target"},
		{"syntax", "id: [tm\n", "c.yaml:1: did not find expected"},
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
		"SIPBUS_TM_ID": "tm-7", "SIPBUS_NATS_URL": "nats://n:4222", "REDIS_URL": "redis://r:6379",
		"SIPBUS_ADVERTISE": "192.0.2.1:5080", "SIPBUS_DOMAINS": " a.example, b.example ,", "SIPBUS_ROUTES": "r.yaml",
		"SIPBUS_T1": "250ms", "SIPBUS_T2": "2s", "SIPBUS_T4": "3s", "SIPBUS_NO_ANSWER": "2m", "SIPBUS_TM_QUEUE_TARGET": "40ms", "SIPBUS_TM_COALESCE": "5ms",
		"SIPBUS_RESOLVER": "127.0.0.1:5353,10.0.0.2", "SIPBUS_FAILOVER_TIMEOUT": "0s",
	}
	c := Default()
	if err := c.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := Config{ID: "tm-7", NATS: "nats://n:4222", Redis: "redis://r:6379", Advertise: "192.0.2.1:5080",
		Domains: []string{"a.example", "b.example"}, Routes: "r.yaml", T1: 250 * time.Millisecond, T2: 2 * time.Second,
		T4: 3 * time.Second, NoAnswer: 2 * time.Minute, QueueTarget: 40 * time.Millisecond,
		QueueInterval: 100 * time.Millisecond, Coalesce: 5 * time.Millisecond,
		Resolver: []string{"127.0.0.1:5353", "10.0.0.2"}, ResolverTimeout: 2 * time.Second}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("FromEnv = %+v\nwant      %+v", c, want)
	}

	// Empty and unset variables change nothing.
	c = Default()
	if err := c.FromEnv(func(k string) string { return map[string]string{"SIPBUS_T1": "  "}[k] }); err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("empty environment changed %+v (%v)", c, err)
	}

	// Every bad value is named.
	bad := map[string]string{"SIPBUS_T1": "fast", "SIPBUS_NO_ANSWER": "60", "SIPBUS_TM_COALESCE": "many"}
	c = Default()
	err := c.FromEnv(func(k string) string { return bad[k] })
	for _, w := range []string{`SIPBUS_T1: "fast" is not a duration`, `SIPBUS_NO_ANSWER: "60" is not a duration`, `SIPBUS_TM_COALESCE: "many" is not a duration`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("FromEnv error %v does not say %q", err, w)
		}
	}
}

func TestLoadEnvOverridesFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("SIPBUS_TM_QUEUE_TARGET", "16ms")
	t.Setenv("SIPBUS_DOMAINS", "env.example")
	t.Setenv("REDIS_URL", "memory://")
	c, err := Load(filepath.Join("testdata", "tm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.QueueTarget != 16*time.Millisecond || !reflect.DeepEqual(c.Domains, []string{"env.example"}) || c.Redis != "memory://" || c.ID != "tm-1" {
		t.Errorf("env over file: %+v", c)
	}
	t.Setenv("SIPBUS_T2", "later")
	if _, err := Load(filepath.Join("testdata", "tm.yaml")); err == nil || !strings.Contains(err.Error(), "SIPBUS_T2") {
		t.Errorf("bad env in Load = %v", err)
	}
}
