package edge_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/service/servicetest"
	"github.com/sipbus/sipbus/services/edge"
)

type ecase = servicetest.Case[edge.Config]

func cfgOf(f func(*edge.Config) any) func(service.Common, *edge.Config) any {
	return func(_ service.Common, c *edge.Config) any { return f(c) }
}

// TestSpecShape: every setting of the edge reaches its field as a flag, a
// key of the file and a variable, with the precedence file < variable <
// flag (servicetest.Shape); the README's table is the code's.
func TestSpecShape(t *testing.T) {
	// tls_cert and tls_key go together: the base file has both.
	base := map[string]string{"tls_cert": `"c.pem"`, "tls_key": `"k.pem"`}
	servicetest.Shape(t, edge.Spec, base, []ecase{
		{Key: "id", Value: "e-7", Other: "e-8", Get: cfgOf(func(c *edge.Config) any { return c.ID }), Want: "e-7"},
		{Key: "udp", Value: "127.0.0.1:5070", Other: "127.0.0.1:5080", Get: cfgOf(func(c *edge.Config) any { return c.UDP }), Want: "127.0.0.1:5070"},
		{Key: "tcp", Value: "off", Other: "127.0.0.1:5080", Get: cfgOf(func(c *edge.Config) any { return c.TCP }), Want: "-"},
		{Key: "tls", Value: "127.0.0.1:5061", Other: "off", Get: cfgOf(func(c *edge.Config) any { return c.TLS }), Want: "127.0.0.1:5061"},
		{Key: "ws", Value: "0.0.0.0:5066", Get: cfgOf(func(c *edge.Config) any { return c.WS }), Want: "0.0.0.0:5066"},
		{Key: "wss", Value: "[::1]:7443", Get: cfgOf(func(c *edge.Config) any { return c.WSS }), Want: "[::1]:7443"},
		{Key: "tls_cert", Value: "/etc/sipbus/tls.crt", Other: "x.crt", Get: cfgOf(func(c *edge.Config) any { return c.TLSCert }), Want: "/etc/sipbus/tls.crt"},
		{Key: "tls_key", Value: "/etc/sipbus/tls.key", Get: cfgOf(func(c *edge.Config) any { return c.TLSKey }), Want: "/etc/sipbus/tls.key"},
		{Key: "tls_ca", Value: "a.pem, b.pem", Other: "c.pem", Get: cfgOf(func(c *edge.Config) any { return c.TLSCA }), Want: []string{"a.pem", "b.pem"}},
		{Key: "tls_insecure", Value: "true", Other: "false", Get: cfgOf(func(c *edge.Config) any { return c.TLSInsecure }), Want: true},
		{Key: "ws_origins", Value: "https://phone.example.com,*", Get: cfgOf(func(c *edge.Config) any { return c.WSOrigins }), Want: []string{"https://phone.example.com", "*"}},
		{Key: "advertise", Value: "sip.example.com:5060", Other: "192.0.2.1:5060", Get: cfgOf(func(c *edge.Config) any { return c.Advertise }), Want: "sip.example.com:5060"},
		{Key: "workers", Value: "8", Other: "4", Get: cfgOf(func(c *edge.Config) any { return c.Workers }), Want: 8},
		{Key: "queue", Value: "1024", Get: cfgOf(func(c *edge.Config) any { return c.Queue }), Want: 1024},
		{Key: "max_message", Value: "8192", Get: cfgOf(func(c *edge.Config) any { return c.MaxMessage }), Want: 8192},
		{Key: "tcp_idle", Value: "90s", Other: "1m", Get: cfgOf(func(c *edge.Config) any { return c.TCPIdle }), Want: 90 * time.Second},
		{Key: "tcp_max_conns", Value: "500", Get: cfgOf(func(c *edge.Config) any { return c.TCPMaxConns }), Want: 500},
		{Key: "cache_max", Value: "1000", Get: cfgOf(func(c *edge.Config) any { return c.CacheMax }), Want: 1000},
		{Key: "republish", Value: "3s", Get: cfgOf(func(c *edge.Config) any { return c.Republish }), Want: 3 * time.Second},
		{Key: "queue_target", Value: "20ms", Get: cfgOf(func(c *edge.Config) any { return c.QueueTarget }), Want: 20 * time.Millisecond},
		{Key: "queue_interval", Value: "200ms", Get: cfgOf(func(c *edge.Config) any { return c.QueueInterval }), Want: 200 * time.Millisecond},
		{Key: "retry_after", Value: "10", Get: cfgOf(func(c *edge.Config) any { return c.RetryAfter }), Want: 10},
		{Key: "sl_secret", Value: "s3cr3t", Other: "other", Get: cfgOf(func(c *edge.Config) any { return c.SLSecret }), Want: "s3cr3t"},
		{Key: "server", Value: "example pbx", Get: cfgOf(func(c *edge.Config) any { return c.Server }), Want: "example pbx"},
		{Key: "supported", Value: "path,gruu", Get: cfgOf(func(c *edge.Config) any { return c.Supported }), Want: []string{"path", "gruu"}},
		{Key: "drain", Value: "10s", Other: "20s", Get: cfgOf(func(c *edge.Config) any { return c.Drain }), Want: 10 * time.Second},
		{Key: "flood_limit", Value: "-1", Other: "50", Get: cfgOf(func(c *edge.Config) any { return c.FloodLimit }), Want: -1},
		{Key: "flood_window", Value: "5s", Get: cfgOf(func(c *edge.Config) any { return c.FloodWindow }), Want: 5 * time.Second},
		{Key: "flood_block", Value: "10m", Get: cfgOf(func(c *edge.Config) any { return c.FloodBlock }), Want: 10 * time.Minute},
		{Key: "flood_allow", Value: "10.0.0.0/8,198.51.100.7", Other: "none", Get: cfgOf(func(c *edge.Config) any { return c.FloodAllow }), Want: []string{"10.0.0.0/8", "198.51.100.7"}},
		{Key: "flood_sources", Value: "5000", Get: cfgOf(func(c *edge.Config) any { return c.FloodSources }), Want: 5000},
	})
	servicetest.Readme(t, edge.Spec, "README.md")
}

// TestSpecDefaults: with no settings at all the edge listens on
// 127.0.0.1:5060 over UDP and TCP only, takes its id from the host name,
// and takes no redis setting (it keeps no state in Redis).
func TestSpecDefaults(t *testing.T) {
	env := func(k string) string { return map[string]string{"SIPBUS_REDIS_URL": "redis://x"}[k] }
	com, c, err := service.Load(edge.Spec, nil, service.IO{Getenv: env, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if c.UDP != "127.0.0.1:5060" || c.TCP != "127.0.0.1:5060" || c.TLS != "-" || c.WS != "-" || c.WSS != "-" {
		t.Errorf("listeners udp %q tcp %q tls %q ws %q wss %q, want udp and tcp on 127.0.0.1:5060, the rest off", c.UDP, c.TCP, c.TLS, c.WS, c.WSS)
	}
	if !strings.HasPrefix(c.ID, "edge-") || com.Redis != "" || com.HTTP != "off" {
		t.Errorf("id %q redis %q http %q, want edge-<host>, none, off", c.ID, com.Redis, com.HTTP)
	}
	if _, _, err := service.Load(edge.Spec, []string{"--redis", "redis://x"}, service.IO{Getenv: env, Stderr: io.Discard}); err == nil {
		t.Error("--redis accepted; the edge takes no redis setting")
	}
}

// TestSpecErrors: bad settings are refused before anything listens, each
// error naming its key; a zero is refused, not replaced by the default.
func TestSpecErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--wss", "192.0.2.1:7443"}, "tls_cert, tls_key: required for the wss listener on 192.0.2.1:7443"},
		{[]string{"--tls", "0.0.0.0:5061"}, "tls_cert, tls_key: required for the tls listener on 0.0.0.0:5061"},
		{[]string{"--tls-cert", "c.pem", "--tls", "127.0.0.1:5061"}, "tls_cert, tls_key: give both or neither"},
		{[]string{"--udp", "off", "--tcp", "-", "--tls", "off"}, "every listener is off"},
		{[]string{"--udp", "localhost:sip"}, `udp: "localhost:sip" is not ip:port`},
		{[]string{"--flood-limit", "0"}, "flood_limit: 0 must be positive, or -1 (off)"},
		{[]string{"--workers", "0"}, "workers: must be positive"},
		{[]string{"--id", "any"}, `id: "any" is reserved`},
		{[]string{"--advertise", "example.com"}, `advertise: "example.com" is not host:port`},
		{[]string{"--drain", "soon"}, `--drain: "soon" is not a duration`},
	} {
		_, _, err := service.Load(edge.Spec, c.args, service.IO{Getenv: func(string) string { return "" }, Stderr: io.Discard})
		var u service.UsageError
		if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error saying %q", c.args, err, c.want)
		}
	}
}
