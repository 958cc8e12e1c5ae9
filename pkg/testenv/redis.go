package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Redis is a private redis-server that a test can stop and start again on
// the same port (an outage): StartRedis starts it, Stop kills it, Start
// brings it back; it is stopped when the test ends.
type Redis struct {
	URL  string
	t    testing.TB
	bin  string
	port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server like RedisURL, one that can be stopped
// and restarted.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := os.Getenv("SIPBUS_REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			t.Fatalf("testenv: redis-server not found on PATH (install it: apt-get install redis-server, or run .ci/run): %v", err)
		}
	}
	r := &Redis{t: t, bin: bin, port: FreePort(t, "tcp"), dir: t.TempDir()}
	r.URL = "redis://" + r.addr() + "/0"
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

func (r *Redis) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Start starts the server (again) and waits until it answers PING.
func (r *Redis) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	out, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatalf("testenv: %v", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testenv: start %s: %v", r.bin, err)
	}
	go func() { _ = cmd.Wait(); _ = out.Close() }()
	r.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for redisPing(r.addr()) != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("testenv: redis-server on %s did not answer PING within 10s; log:\n%s", r.addr(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (its PID) and waits until the port refuses
// connections.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	r.cmd = nil
	deadline := time.Now().Add(5 * time.Second)
	for redisPing(r.addr()) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
