package service_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/service/servicetest"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// demo is a service's settings, one of each kind.
type demo struct {
	Name    string            `yaml:"name" help:"a name"`
	Workers int               `yaml:"workers" help:"how many"`
	Quiet   bool              `yaml:"quiet" help:"say less"`
	Wait    time.Duration     `yaml:"wait" help:"how long"`
	Peers   []string          `yaml:"peers" help:"who"`
	Codes   []int             `yaml:"codes" help:"which"`
	Backoff []time.Duration   `yaml:"backoff" help:"retries"`
	Secret  string            `yaml:"secret" secret:"true" help:"a key"`
	Shared  string            `yaml:"domains" env:"SIPBUS_DOMAINS" help:"shared with others"`
	Routes  map[string]string `yaml:"routes" help:"file only"`
}

type demoSvc struct {
	mu               sync.Mutex
	started, stopped bool
}

func (d *demoSvc) Start(context.Context) error {
	d.mu.Lock()
	d.started = true
	d.mu.Unlock()
	return nil
}
func (d *demoSvc) Shutdown(context.Context) error {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	return nil
}
func (d *demoSvc) Banner() string { return "  demo   up" }

func spec(svc *demoSvc) service.Spec[demo] {
	return service.Spec[demo]{
		Name: "demo", Redis: service.RedisRequired,
		Default: func() demo { return demo{Workers: 4, Wait: time.Second} },
		Validate: func(c *demo) error {
			if c.Workers < 1 {
				return fmt.Errorf("workers %d: want at least 1", c.Workers)
			}
			return nil
		},
		Build: func(ctx context.Context, c *demo, d *service.Deps) (service.Service, error) { return svc, nil },
	}
}

var base = map[string]string{"redis": `"redis://127.0.0.1:1"`}

// TestShape: the shared table test over a settings struct with one field
// of each kind, and the common settings.
func TestShape(t *testing.T) {
	servicetest.Shape(t, spec(nil), base, []servicetest.Case[demo]{
		{Key: "name", Value: "a b", Other: "c", Get: func(_ service.Common, c *demo) any { return c.Name }, Want: "a b"},
		{Key: "workers", Value: "7", Other: "8", Get: func(_ service.Common, c *demo) any { return c.Workers }, Want: 7},
		{Key: "quiet", Value: "true", Other: "false", Get: func(_ service.Common, c *demo) any { return c.Quiet }, Want: true},
		{Key: "wait", Value: "90s", Other: "1m", Get: func(_ service.Common, c *demo) any { return c.Wait }, Want: 90 * time.Second},
		{Key: "peers", Value: "a, b", Other: "c", Get: func(_ service.Common, c *demo) any { return c.Peers }, Want: []string{"a", "b"}},
		{Key: "codes", Value: "486,600", Get: func(_ service.Common, c *demo) any { return c.Codes }, Want: []int{486, 600}},
		{Key: "backoff", Value: "1s,2s", Get: func(_ service.Common, c *demo) any { return c.Backoff }, Want: []time.Duration{time.Second, 2 * time.Second}},
		{Key: "secret", Value: "s3cr3t", Get: func(_ service.Common, c *demo) any { return c.Secret }, Want: "s3cr3t"},
		{Key: "domains", Value: "x.example", Get: func(_ service.Common, c *demo) any { return c.Shared }, Want: "x.example"},
	})
	fields, _ := service.Settings(spec(nil))
	for _, f := range fields {
		switch f.Key {
		case "secret":
			if f.Flag != "" || f.Env != "SIPBUS_DEMO_SECRET" {
				t.Errorf("secret: flag %q env %q, want no flag, SIPBUS_DEMO_SECRET", f.Flag, f.Env)
			}
		case "routes":
			if !f.FileOnly || f.Flag != "" || f.Env != "" {
				t.Errorf("routes: %+v, want file only", f)
			}
		case "wait":
			if f.Flag != "wait" || f.Env != "SIPBUS_DEMO_WAIT" {
				t.Errorf("wait: %+v", f)
			}
		}
	}
}

func load(args []string, env map[string]string) (service.Common, demo, error) {
	return service.Load(spec(nil), args, service.IO{Getenv: func(k string) string { return env[k] }, Stderr: io.Discard})
}

// TestLoadErrors: every bad setting is named by where it came from, a
// secret's value never appears, and the checks of Common and of the
// service's Validate run.
func TestLoadErrors(t *testing.T) {
	r := "--redis=redis://x"
	servicetest.Errors(t, spec(nil), []servicetest.ErrCase{
		{Name: "flag", Args: []string{r, "--workers=x"}, Want: []string{"--workers", `"x" is not an integer`}},
		{Name: "variable", Args: []string{r}, Env: map[string]string{"SIPBUS_DEMO_WAIT": "soon"}, Want: []string{"SIPBUS_DEMO_WAIT", `"soon" is not a duration`}},
		{Name: "list item", Args: []string{r, "--codes=1,x"}, Want: []string{"--codes", `"x" is not an integer`}},
		{Name: "secret has no flag", Args: []string{r, "--secret=abc"}, Want: []string{"flag provided but not defined: -secret"}},
		{Name: "validate", Args: []string{r, "--workers=0"}, Want: []string{"workers 0: want at least 1"}},
		{Name: "redis required", Want: []string{"redis (--redis, SIPBUS_REDIS_URL): required"}},
		{Name: "memory redis", Args: []string{"--redis=memory://"}, Want: []string{"redis (--redis, SIPBUS_REDIS_URL): required"}},
		{Name: "log level", Args: []string{r, "--log-level=loud"}, Want: []string{`log_level "loud"`}},
		{Name: "argument", Args: []string{r, "extra"}, Want: []string{`unexpected argument "extra"`}},
		{Name: "missing file", Args: []string{r, "--config=/nonexistent.yaml"}, Want: []string{"--config", "/nonexistent.yaml"}},
		{Name: "config from env", Args: []string{r}, Env: map[string]string{"SIPBUS_DEMO_CONFIG": "/nonexistent2.yaml"}, Want: []string{"/nonexistent2.yaml"}},
	})
}

// TestListFlagRepeats: a repeated list flag adds, its first use replaces
// the environment's list.
func TestListFlagRepeats(t *testing.T) {
	_, c, err := load([]string{"--redis=redis://x", "--peers=a,b", "--peers", "c"}, map[string]string{"SIPBUS_DEMO_PEERS": "z"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Peers, " ") != "a b c" {
		t.Errorf("peers %q, want a b c", c.Peers)
	}
}

// TestRedisNone: a service without Redis takes no redis setting: no flag,
// the shared variable is ignored, the file key is refused.
func TestRedisNone(t *testing.T) {
	s := spec(nil)
	s.Redis = service.RedisNone
	o := service.IO{Getenv: func(k string) string { return map[string]string{"SIPBUS_REDIS_URL": "redis://x"}[k] }, Stderr: io.Discard}
	if _, _, err := service.Load(s, nil, o); err != nil {
		t.Errorf("with SIPBUS_REDIS_URL set: %v", err)
	}
	if _, _, err := service.Load(s, []string{"--redis=redis://x"}, o); err == nil || !strings.Contains(err.Error(), "-redis") {
		t.Errorf("--redis: %v, want unknown flag", err)
	}
	_ = s
}

// TestUsage: -h prints every flag with its variable and default, no
// secret's value, and returns flag.ErrHelp.
func TestUsage(t *testing.T) {
	var b bytes.Buffer
	_, _, err := service.Load(spec(nil), []string{"-h"}, service.IO{Getenv: func(string) string { return "" }, Stderr: &b})
	if err == nil || !strings.Contains(err.Error(), "help requested") {
		t.Errorf("-h: %v", err)
	}
	for _, w := range []string{"--workers int", "(default 4)", "[$SIPBUS_DEMO_WORKERS]", "$SIPBUS_DEMO_SECRET (no flag: a secret)", "(file only) routes", "--nats string", "[$SIPBUS_NATS_URL]"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("usage lacks %q:\n%s", w, b.String())
		}
	}
}

// TestMain_RunsAndDrains: Main against a real NATS server and a real
// redis-server: the service starts, "ready" is printed, /healthz,
// /readyz and /metrics answer on --http, the event stream exists; when
// the context ends, Shutdown is called and "stopped" printed.
func TestMainRunsAndDrains(t *testing.T) {
	ns := testenv.NATS(t)
	redisURL := testenv.RedisURL(t)
	port := testenv.FreePort(t, "tcp")
	svc := &demoSvc{}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuf
	done := make(chan error, 1)
	go func() {
		done <- service.Main(ctx, spec(svc), []string{"--nats", ns.ClientURL(), "--redis", redisURL, "--http", fmt.Sprintf("127.0.0.1:%d", port)},
			service.IO{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: io.Discard})
	}()
	testenv.Eventually(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "ready") }, "no ready line: %s", &out)
	if !strings.Contains(out.String(), "sipbus demo\n  demo   up\n  http   http://127.0.0.1:") {
		t.Errorf("banner:\n%s", out.String())
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := testenv.HTTPGet(base + p); code != 200 {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
	_, js := testenv.Connect(t, ns.ClientURL())
	if _, err := js.Stream(context.Background(), bus.DefaultStream); err != nil {
		t.Errorf("stream: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after the context ended")
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if !svc.started || !svc.stopped || !strings.HasSuffix(out.String(), "stopped\n") {
		t.Errorf("started %v stopped %v, output:\n%s", svc.started, svc.stopped, out.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
