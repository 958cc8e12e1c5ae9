package location_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/location/locationtest"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// clusterClient starts a one-node Redis Cluster (cluster mode enforces the
// same-slot rules on scripts and commands) and returns a ClusterClient on
// it, so the engine's Cluster path (index updates as a second round trip)
// runs against a real server. The binary is the one testenv uses.
func clusterClient(t *testing.T) *redis.ClusterClient {
	t.Helper()
	bin := os.Getenv("SIPBUS_REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			t.Fatalf("redis-server not found on PATH (install it: apt-get install redis-server): %v", err)
		}
	}
	port := testenv.FreePort(t, "tcp")
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	node := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = node.Close() })
	ctx := testenv.Context(t, 20*time.Second)
	testenv.Eventually(t, 10*time.Second, func() bool { return node.Ping(ctx).Err() == nil }, "redis cluster node on %s does not answer", addr)
	if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		info, err := node.ClusterInfo(ctx).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	}, "redis cluster on %s never reached cluster_state:ok", addr)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisClusterConformance(t *testing.T) {
	c := clusterClient(t)
	var n atomic.Int64
	locationtest.Run(t, func(t *testing.T) location.Store {
		return location.NewRedis(c, fmt.Sprintf("c%d", n.Add(1)))
	})
}

// TestRedisClusterSlots checks that every key of an AOR the engine writes
// in one script lives in one slot, and that the expiry shards spread.
func TestRedisClusterSlots(t *testing.T) {
	c := clusterClient(t)
	ctx := context.Background()
	aor := "alice@example.com"
	s1, err := c.ClusterKeySlot(ctx, location.LocKey("sipbus", aor)).Result()
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := c.ClusterKeySlot(ctx, "x:"+"{"+aor+"}").Result()
	if s1 != s2 {
		t.Errorf("AOR hash slot %d is not the slot of {%s} (%d)", s1, aor, s2)
	}
	slots := map[int64]bool{}
	for i := range location.ExpiryShards {
		s, err := c.ClusterKeySlot(ctx, location.ExpiryKey("sipbus", i)).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[s] = true
	}
	if len(slots) != location.ExpiryShards {
		t.Errorf("%d expiry shards use %d slots, want one each", location.ExpiryShards, len(slots))
	}
}
