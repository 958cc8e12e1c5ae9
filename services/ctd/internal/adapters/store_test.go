package adapters_test

import (
	"context"
	"testing"

	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/ctd/internal/adapters"
	"github.com/sipbus/sipbus/services/ctd/internal/adapters/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Engine { return adapters.NewMemory() })
}

// TestRedis runs the suite on a real redis-server.
func TestRedis(t *testing.T) {
	url := testenv.RedisURL(t)
	n := 0
	storetest.Run(t, func(t *testing.T) storetest.Engine {
		c, _, err := store.OpenRedisClient(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		n++
		return adapters.NewRedis(c, "t"+string(rune('a'+n)))
	})
}
