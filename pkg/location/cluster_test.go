package location_test

import (
	"context"
	"fmt"
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
	addr := testenv.StartRedisCluster(t).Addr
	node := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = node.Close() })
	ctx := testenv.Context(t, 20*time.Second)
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
