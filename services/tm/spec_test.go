package tm_test

import (
	"io"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/service/servicetest"
	"github.com/sipbus/sipbus/services/tm"
)

type tmCase = servicetest.Case[tm.Config]

var cfgOf = servicetest.Field[tm.Config, any]

// TestSpecShape: every setting of tm reaches its field as a flag, a file
// key and a variable, with the precedence file < variable < flag; static
// is file only, flow_secret has no flag.
func TestSpecShape(t *testing.T) {
	base := map[string]string{"redis": `"redis://127.0.0.1:1"`, "advertise": `"127.0.0.1:5060"`}
	servicetest.Shape(t, tm.Spec, base, []tmCase{
		{Key: "id", Value: "tm-7", Other: "tm-8", Get: cfgOf(func(c *tm.Config) any { return c.ID }), Want: "tm-7"},
		{Key: "advertise", Value: "192.0.2.1:5080", Other: "192.0.2.2:5060", Get: cfgOf(func(c *tm.Config) any { return c.Advertise }), Want: "192.0.2.1:5080"},
		{Key: "advertise_tcp", Value: "192.0.2.1:5060", Other: "192.0.2.2:5060", Get: cfgOf(func(c *tm.Config) any { return c.AdvertiseTCP }), Want: "192.0.2.1:5060"},
		{Key: "advertise_tls", Value: "192.0.2.1:5061", Other: "192.0.2.2:5061", Get: cfgOf(func(c *tm.Config) any { return c.AdvertiseTLS }), Want: "192.0.2.1:5061"},
		{Key: "advertise_ws", Value: "192.0.2.1:80", Other: "192.0.2.2:80", Get: cfgOf(func(c *tm.Config) any { return c.AdvertiseWS }), Want: "192.0.2.1:80"},
		{Key: "advertise_wss", Value: "192.0.2.1:443", Other: "192.0.2.2:443", Get: cfgOf(func(c *tm.Config) any { return c.AdvertiseWSS }), Want: "192.0.2.1:443"},
		{Key: "flow_secret", Value: "flow-s3cret", Other: "other-secret", Get: cfgOf(func(c *tm.Config) any { return c.FlowSecret }), Want: "flow-s3cret"},
		{Key: "domains", Value: "a.example, B.example", Other: "c.example", Get: cfgOf(func(c *tm.Config) any { return c.Domains }), Want: []string{"a.example", "b.example"}},
		{Key: "routes", Value: "/etc/sipbus/routes.yaml", Other: "/etc/other.yaml", Get: cfgOf(func(c *tm.Config) any { return c.Routes }), Want: "/etc/sipbus/routes.yaml"},
		{Key: "t1", Value: "250ms", Other: "400ms", Get: cfgOf(func(c *tm.Config) any { return c.T1 }), Want: 250 * time.Millisecond},
		{Key: "t2", Value: "8s", Other: "6s", Get: cfgOf(func(c *tm.Config) any { return c.T2 }), Want: 8 * time.Second},
		{Key: "t4", Value: "3s", Other: "4s", Get: cfgOf(func(c *tm.Config) any { return c.T4 }), Want: 3 * time.Second},
		{Key: "no_answer", Value: "2m", Other: "90s", Get: cfgOf(func(c *tm.Config) any { return c.NoAnswer }), Want: 2 * time.Minute},
		{Key: "queue_target", Value: "40ms", Other: "30ms", Get: cfgOf(func(c *tm.Config) any { return c.QueueTarget }), Want: 40 * time.Millisecond},
		{Key: "queue_interval", Value: "200ms", Other: "300ms", Get: cfgOf(func(c *tm.Config) any { return c.QueueInterval }), Want: 200 * time.Millisecond},
		{Key: "coalesce", Value: "5ms", Other: "0s", Get: cfgOf(func(c *tm.Config) any { return c.Coalesce }), Want: 5 * time.Millisecond},
		{Key: "aliases", Value: "192.0.2.9:5060,edge-b.example:5060", Other: "192.0.2.8:5060", Get: cfgOf(func(c *tm.Config) any { return c.Aliases }), Want: []string{"192.0.2.9:5060", "edge-b.example:5060"}},
		{Key: "resolver", Value: "127.0.0.1:5353, 10.0.0.2", Other: "10.0.0.3", Get: cfgOf(func(c *tm.Config) any { return c.Resolver }), Want: []string{"127.0.0.1:5353", "10.0.0.2"}},
		{Key: "resolver_timeout", Value: "1500ms", Other: "3s", Get: cfgOf(func(c *tm.Config) any { return c.ResolverTimeout }), Want: 1500 * time.Millisecond},
		{Key: "failover_timeout", Value: "0s", Other: "3s", Get: cfgOf(func(c *tm.Config) any { return c.FailoverTimeout }), Want: time.Duration(0)},
	})
	fields, _ := service.Settings(tm.Spec)
	names := map[string]service.Field{}
	for _, f := range fields {
		names[f.Key] = f
	}
	for key, want := range map[string]service.Field{
		"advertise":   {Flag: "advertise", Env: "SIPBUS_TM_ADVERTISE"},
		"no_answer":   {Flag: "no-answer", Env: "SIPBUS_TM_NO_ANSWER"},
		"domains":     {Flag: "domains", Env: "SIPBUS_DOMAINS"},
		"flow_secret": {Env: "SIPBUS_FLOW_SECRET"},
		"static":      {},
		"redis":       {Flag: "redis", Env: "SIPBUS_REDIS_URL"},
	} {
		if f := names[key]; f.Flag != want.Flag || f.Env != want.Env {
			t.Errorf("%s: flag %q env %q, want flag %q env %q", key, f.Flag, f.Env, want.Flag, want.Env)
		}
	}
	if !names["static"].FileOnly || !names["flow_secret"].Secret {
		t.Errorf("static file only %v, flow_secret secret %v", names["static"].FileOnly, names["flow_secret"].Secret)
	}
}

// TestSpecReadme: the README's settings table is the code's.
func TestSpecReadme(t *testing.T) {
	servicetest.Readme(t, tm.Spec, "README.md")
}

func load(args []string, env map[string]string) (service.Common, tm.Config, error) {
	return service.Load(tm.Spec, args, service.IO{Getenv: func(k string) string { return env[k] }, Stderr: io.Discard})
}

// TestSpecSample loads testdata/tm.yaml, which has every key: the file
// holds the common keys too, static included, and Validate normalizes.
func TestSpecSample(t *testing.T) {
	com, c, err := load([]string{"--config", filepath.Join("testdata", "tm.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := tm.Config{
		ID: "tm-1", Advertise: "proxy.example.com:5060", Domains: []string{"example.com", "example.org"},
		AdvertiseTCP: "proxy.example.com:5060", AdvertiseTLS: "proxy.example.com:5061", AdvertiseWS: "proxy.example.com:80",
		AdvertiseWSS: "proxy.example.com:443", FlowSecret: "change-me",
		Routes: "/etc/sipbus/routes.yaml", T1: 500 * time.Millisecond, T2: 4 * time.Second, T4: 5 * time.Second,
		NoAnswer: 90 * time.Second, QueueTarget: 50 * time.Millisecond, QueueInterval: 100 * time.Millisecond,
		Coalesce: 20 * time.Millisecond, Aliases: []string{"edge-b.example.com:5060"}, Resolver: []string{"10.0.0.2", "10.0.0.3:5353"},
		ResolverTimeout: 1500 * time.Millisecond, FailoverTimeout: 3 * time.Second,
		Static: map[string][]string{
			"alice@example.com": {"sip:alice@192.0.2.21:5060"},
			"bob@example.org":   {"sip:bob@192.0.2.22:5060;transport=tcp", "sips:bob@bob.example.org"},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("loaded %+v\nwant   %+v", c, want)
	}
	wantCom := service.Common{NATS: "nats://nats-1:4222,nats://nats-2:4222", Redis: "redis://redis:6379/0", StreamReplicas: 3,
		HTTP: "0.0.0.0:8080", LogLevel: "info", LogFormat: "json", Shutdown: 40 * time.Second}
	if com != wantCom {
		t.Errorf("common %+v\nwant   %+v", com, wantCom)
	}
}

// TestSpecErrors: bad settings are usage errors naming the key, flag,
// variable or file line; the flow secret is never quoted.
func TestSpecErrors(t *testing.T) {
	file := func(s string) string { return servicetest.File(t, s) }
	r, a := "--redis=redis://127.0.0.1:1", "--advertise=127.0.0.1:5060"
	servicetest.Errors(t, tm.Spec, []servicetest.ErrCase{
		{Name: "advertise required", Args: []string{r}, Want: []string{"advertise: required"}},
		{Name: "redis required", Args: []string{a}, Want: []string{"redis (--redis, SIPBUS_REDIS_URL): required"}},
		{Name: "advertise without port", Args: []string{r, "--advertise=proxy.example.com"}, Want: []string{`advertise: "proxy.example.com" is not host:port`}},
		{Name: "t2 below t1", Args: []string{r, a, "--t1=1s", "--t2=500ms"}, Want: []string{"t2: must be >= t1"}},
		{Name: "duration flag", Args: []string{r, a, "--no-answer=60"}, Want: []string{"--no-answer", `"60" is not a duration`}},
		{Name: "duration variable", Args: []string{r, a}, Env: map[string]string{"SIPBUS_TM_T1": "fast"}, Want: []string{"SIPBUS_TM_T1", `"fast" is not a duration`}},
		{Name: "resolver a name", Args: []string{r, a, "--resolver=dns.example.com"}, Want: []string{`resolver: "dns.example.com": want an IP address or ip:port`}},
		{Name: "static is file only", Args: []string{r, a, "--static=bob@localhost=sip:bob@127.0.0.1"}, Want: []string{"flag provided but not defined: -static"}},
		{Name: "flow secret has no flag", Args: []string{r, a, "--flow-secret=x"}, Want: []string{"flag provided but not defined: -flow-secret"}},
		{Name: "unknown key", Args: []string{r, a, "--config", file("id: tm-1\nadvertize: a:5060\n")}, Want: []string{`c.yaml:2: unknown key "advertize"`}},
		{Name: "duration without unit", Args: []string{r, a, "--config", file("t1: 500\n")}, Want: []string{"c.yaml:1", "time.Duration"}},
		{Name: "static foreign domain", Args: []string{r, a, "--config", file("domains: [example.com]\nstatic:\n  alice@example.net: [sip:a@192.0.2.1]\n")}, Want: []string{`static: "alice@example.net": example.net is not one of domains`}},
		{Name: "old variable names are gone", Args: []string{r}, Env: map[string]string{"SIPBUS_ADVERTISE": "127.0.0.1:5060"}, Want: []string{"advertise: required"}},
	})
}
