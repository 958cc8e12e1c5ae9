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
	Addr string // host:port
	t    testing.TB
	bin  string
	args []string
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server on a free loopback port with its data in
// a temporary folder, one that can be stopped and restarted. args are extra
// configuration directives, as on redis-server's command line ("--name",
// "value"). The binary is redis-server on PATH, or $SIPBUS_REDIS_SERVER.
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin := os.Getenv("SIPBUS_REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			t.Fatalf("testenv: redis-server not found on PATH (install it: apt-get install redis-server, or run .ci/run): %v", err)
		}
	}
	port := FreePort(t, "tcp")
	r := &Redis{t: t, bin: bin, dir: t.TempDir(), Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	r.URL = "redis://" + r.Addr + "/0"
	r.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}, args...)
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// StartRedisCluster starts a redis-server in cluster mode (one node, no slots
// assigned yet: the test adds them). Its cluster bus port is a FreePort of
// its own: redis-server's default, the port + 10000, lands in the kernel's
// ephemeral range, where an outgoing connection of a test running in
// parallel can hold it (the node then exits with "address already in use";
// CI saw it).
func StartRedisCluster(t testing.TB) *Redis {
	t.Helper()
	// nodes.conf is relative to --dir, the server's own folder.
	return StartRedis(t, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(FreePort(t, "tcp")),
		"--cluster-config-file", "nodes.conf")
}

// Start starts the server (again) and waits until it answers PING; if it
// does not within 10 s, or exits, the test fails with the server's log.
func (r *Redis) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	cmd := exec.Command(r.bin, r.args...)
	logPath := filepath.Join(r.dir, "redis.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatalf("testenv: %v", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testenv: start %s: %v", r.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = out.Close(); close(exited) }()
	r.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for redisPing(r.Addr) != nil {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			r.cmd = nil
			r.t.Fatalf("testenv: redis-server on %s exited (%v); log:\n%s", r.Addr, cmd.ProcessState, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			r.t.Fatalf("testenv: redis-server on %s did not answer PING within 10s; log:\n%s", r.Addr, log)
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
	for redisPing(r.Addr) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
