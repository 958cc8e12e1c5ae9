package registrar

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// OpenState opens the registrar's state named by url (Config.Redis): ""
// or memory:// gives the in-memory engines (one process only); a
// redis://, rediss:// or unix:// URL (every form store.Open accepts, with
// its prefix= parameter) gives the Redis engines of the location service,
// the subscriber directory and the nonce counter on one client, which
// close closes. The URL's password is never in an error.
func OpenState(ctx context.Context, url string) (location.Store, subscriber.Directory, digest.NonceCounter, func() error, error) {
	url = strings.TrimSpace(url)
	if url == "" || url == "memory:" || strings.HasPrefix(url, "memory://") {
		return location.NewMemory(), subscriber.NewMemory(), digest.NewMemoryCounter(nil), func() error { return nil }, nil
	}
	c, prefix, err := store.OpenRedisClient(ctx, url)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("registrar: state: %w", err)
	}
	loc, dir, nonces := stateOn(c, prefix)
	return loc, dir, nonces, c.Close, nil
}

// StateFor returns the registrar's state beside the process's transaction
// store st: on its Redis client (one connection pool), or the in-memory
// engines when st is the memory engine. st keeps owning the client.
func StateFor(st store.Store) (location.Store, subscriber.Directory, digest.NonceCounter) {
	if r, ok := st.(*store.Redis); ok {
		return stateOn(r.Client())
	}
	return location.NewMemory(), subscriber.NewMemory(), digest.NewMemoryCounter(nil)
}

func stateOn(c redis.UniversalClient, prefix string) (location.Store, subscriber.Directory, digest.NonceCounter) {
	return location.NewRedis(c, prefix), subscriber.NewRedis(c, prefix), digest.NewRedisCounter(c, prefix)
}
