package testenv

import (
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestServersStart(t *testing.T) {
	url := RedisURL(t)
	if err := redisPing(url[len("redis://") : len(url)-2]); err != nil {
		t.Fatalf("redis %s: %v", url, err)
	}
	s := NATS(t)
	nc, js := Connect(t, s.ClientURL())
	if !nc.IsConnected() {
		t.Fatal("not connected")
	}
	ctx := Context(t, 5*time.Second)
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream not enabled: %v", err)
	}
}

// TestMailpitPortInUse: a Mailpit whose port another process took exits
// at start with errPortInUse (which StartMailpitWith answers with fresh
// ports), and StartMailpit still gives a working Mailpit.
func TestMailpitPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := &Mailpit{t: t, bin: MailpitBinary(t), db: filepath.Join(t.TempDir(), "mailpit.db"),
		smtpPort: FreePort(t, "tcp"), httpPort: l.Addr().(*net.TCPAddr).Port}
	m.SMTP = "127.0.0.1:" + strconv.Itoa(m.smtpPort)
	m.HTTP = "http://" + l.Addr().String()
	t.Cleanup(m.Stop)
	if err := m.start(); !errors.Is(err, errPortInUse) {
		t.Errorf("start on a taken port: %v, want errPortInUse", err)
	}
	if mp := StartMailpit(t); len(mp.Messages(t)) != 0 {
		t.Errorf("a fresh Mailpit has mails")
	}
}

// FreePort hands out distinct ports below the kernel's ephemeral range,
// free for UDP and TCP alike when asked for "udp".
func TestFreePort(t *testing.T) {
	lo, hi := portRange()
	seen := map[int]bool{}
	for i := range 20 {
		network := []string{"udp", "tcp"}[i%2]
		p := FreePort(t, network)
		if p < lo || p >= hi || seen[p] {
			t.Fatalf("FreePort(%s) = %d: outside %d..%d or given twice", network, p, lo, hi)
		}
		seen[p] = true
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("FreePort(%s) = %d: %v", network, p, err)
		}
		if network == "udp" {
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				t.Fatalf("FreePort(udp) = %d: %v", p, err)
			}
			c.Close()
		}
		l.Close()
	}
}

// A cluster node's bus port is a FreePort (below the ephemeral range), not
// redis-server's default of the port + 10000, which lies in that range.
func TestRedisClusterBusPort(t *testing.T) {
	r := StartRedisCluster(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	cfg, err := c.ConfigGet(Context(t, 5*time.Second), "cluster-port").Result()
	if err != nil {
		t.Fatalf("CONFIG GET cluster-port: %v", err)
	}
	bus, err := strconv.Atoi(cfg["cluster-port"])
	if err != nil {
		t.Fatalf("CONFIG GET cluster-port: %q", cfg)
	}
	if lo, hi := portRange(); bus < lo || bus >= hi {
		t.Errorf("cluster bus port %d outside %d..%d", bus, lo, hi)
	}
	if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(bus))); err == nil {
		l.Close()
		t.Errorf("nothing listens on the cluster bus port %d", bus)
	}
}
