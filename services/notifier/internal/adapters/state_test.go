package adapters_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/notifier/internal/adapters"
	"github.com/sipbus/sipbus/services/notifier/internal/adapters/statetest"
)

func TestMemoryState(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.State { return adapters.NewMemory(nil) })
}

func TestRedisState(t *testing.T) {
	o, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	o.ContextTimeoutEnabled = true
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	var n atomic.Int64
	statetest.Run(t, func(t *testing.T) statetest.State { return adapters.NewRedis(c, fmt.Sprint("t", n.Add(1))) })
}
