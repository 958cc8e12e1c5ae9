// Package testenv starts the real servers that sipbus tests run against: a
// redis-server process and an embedded NATS server with JetStream. Nothing is
// mocked. A server that cannot be started fails the test with the reason (and
// how to install what is missing); nothing is skipped.
package testenv

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sipbus/sipbus/pkg/natsembed"
)

// RedisURL starts a private redis-server on a free loopback port with its data
// in a temporary folder and returns its redis:// URL; the server is stopped when
// the test ends. The binary is redis-server on PATH, or $SIPBUS_REDIS_SERVER.
func RedisURL(t testing.TB) string {
	t.Helper()
	return StartRedis(t).URL
}

func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// NATS starts an embedded NATS server with JetStream on a free loopback port,
// with its store in a temporary folder, and returns it; it is shut down when the
// test ends.
func NATS(t testing.TB) *natsembed.Server {
	t.Helper()
	s, err := natsembed.Start(natsembed.Config{
		Listen:     "127.0.0.1:0",
		StoreDir:   t.TempDir(),
		ServerName: "test-" + strconv.Itoa(os.Getpid()),
	})
	if err != nil {
		t.Fatalf("testenv: embedded NATS: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Connect connects to url and returns the connection and a JetStream context;
// the connection is closed when the test ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("testenv: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return nc, js
}

// FreePort returns a free loopback port for network "tcp", or for "udp" a
// port free for UDP and TCP both (what a SIP listener binds). The port is
// below the kernel's ephemeral range (ip_local_port_range), so no outgoing
// connection of a test running in parallel takes it between this check and
// the bind of the process it is for (a port the kernel handed out as :0 is
// in that range, and CI saw a sipbus up fail with "address already in use"
// that way); a port is handed out once per test binary.
func FreePort(t testing.TB, network string) int {
	t.Helper()
	lo, hi := portRange()
	for range 500 {
		port := lo + rand.IntN(hi-lo)
		portsMu.Lock()
		seen := portsGiven[port]
		portsGiven[port] = true
		portsMu.Unlock()
		if seen || !portFree(network, port) {
			continue
		}
		return port
	}
	t.Fatalf("testenv: no free %s port in %d..%d after 500 tries", network, lo, hi)
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// portRange is where FreePort picks: from 20000 to the start of the
// ephemeral range (32768 by default), or 10000..20000 when that range
// starts low.
func portRange() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				hi = n
			}
		}
	}
	if hi < 22000 {
		return 10000, 20000
	}
	return 20000, hi
}

// portFree reports whether port can be bound on 127.0.0.1 now: TCP, and
// for "udp" UDP too.
func portFree(network string, port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	if network == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// Context returns a context that ends with the test or after d, whichever is first.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Eventually polls cond every 10ms until it returns true or d passes, then
// fails the test with msg.
func Eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("testenv: after %v: "+msg, append([]any{d}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
