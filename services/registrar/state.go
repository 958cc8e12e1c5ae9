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

// State is the registrar's shared state: the location service, the
// subscriber directory, the digest nonce-counts and the counts of failed
// authentications, all on one Redis (or all in this process).
type State struct {
	Location  location.Store
	Directory subscriber.Directory
	// Nonces is the digest nonce-count record shared by the replicas
	// (replay protection). nil: an in-process record, right only for a
	// single replica.
	Nonces digest.NonceCounter
	// Failures counts failed authentications for the brute-force limits,
	// shared by the replicas. nil: an in-process count, right only for a
	// single replica.
	Failures digest.FailureCounter
}

// OpenState opens the registrar's state named by url (Config.Redis): ""
// or memory:// gives the in-memory engines (one process only); a
// redis://, rediss:// or unix:// URL (every form store.Open accepts, with
// its prefix= parameter) gives the Redis engines on one client, which
// close closes. The URL's password is never in an error.
func OpenState(ctx context.Context, url string) (State, func() error, error) {
	url = strings.TrimSpace(url)
	if url == "" || url == "memory:" || strings.HasPrefix(url, "memory://") {
		return memoryState(), func() error { return nil }, nil
	}
	c, prefix, err := store.OpenRedisClient(ctx, url)
	if err != nil {
		return State{}, nil, fmt.Errorf("registrar: state: %w", err)
	}
	return stateOn(c, prefix), c.Close, nil
}

// StateFor returns the registrar's state beside the process's transaction
// store st: on its Redis client (one connection pool), or the in-memory
// engines when st is the memory engine. st keeps owning the client.
func StateFor(st store.Store) State {
	if r, ok := st.(*store.Redis); ok {
		return stateOn(r.Client())
	}
	return memoryState()
}

func memoryState() State {
	return State{Location: location.NewMemory(), Directory: subscriber.NewMemory(),
		Nonces: digest.NewMemoryCounter(nil), Failures: digest.NewMemoryFailures(nil)}
}

func stateOn(c redis.UniversalClient, prefix string) State {
	return State{Location: location.NewRedis(c, prefix), Directory: subscriber.NewRedis(c, prefix),
		Nonces: digest.NewRedisCounter(c, prefix), Failures: digest.NewRedisFailures(c, prefix)}
}
