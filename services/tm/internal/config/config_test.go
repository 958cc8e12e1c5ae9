package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/confload"
)

func TestDefault(t *testing.T) {
	c := Default()
	want := Config{T1: 500 * time.Millisecond, T2: 4 * time.Second,
		T4: 5 * time.Second, NoAnswer: 60 * time.Second, QueueTarget: bus.DefaultQueueTarget,
		QueueInterval: bus.DefaultQueueInterval, Coalesce: 20 * time.Millisecond,
		ResolverTimeout: 2 * time.Second, FailoverTimeout: 5 * time.Second}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v\nwant        %+v", c, want)
	}
	if err := c.Validate(); err == nil || err.Error() != "advertise: required" {
		t.Errorf("Default().Validate() = %v; want only advertise: required", err)
	}
	if !idRE.MatchString(c.ID) || c.ID != hostID() {
		t.Errorf("default id %q: want the host name, a valid id", c.ID)
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
		{"id with a space", func(c *Config) { c.ID = "tm 1" }, `id: "tm 1": want 1-64 characters`},
		{"id with a dot", func(c *Config) { c.ID = "tm.1" }, `id: "tm.1"`},
		{"id too long", func(c *Config) { c.ID = strings.Repeat("a", 65) }, "id: "},
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
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{ID: "a b", T2: -1, Static: map[string][]string{"x": nil}}
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config validated")
	}
	for _, key := range []string{"id:", "advertise:", "t1:", "t2:", "t4:", "no_answer:", "queue_target:", "static:"} {
		if !strings.Contains(err.Error(), "\n"+key) && !strings.HasPrefix(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
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
	if c.ID != "tm-1" || len(c.Static) != 1 {
		t.Errorf("doc.go sample decoded to %+v", c)
	}
}
