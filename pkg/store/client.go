package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// OpenRedisClient connects the go-redis client named by a redis://,
// rediss:// or unix:// URL, in every form Open accepts (single node,
// Cluster, Sentinel; see the package doc), pings it (at most
// OpenPingTimeout) and returns it with the key prefix of the URL's prefix=
// parameter ("" when absent: each engine then uses its default, "sipbus").
// It is for the other engines that live on the same Redis as the store
// (location, subscriber, digest nonce counters), which take a client and a
// prefix. The client has ContextTimeoutEnabled set; op_timeout is accepted
// and ignored, since those engines are bounded by their callers' contexts.
// The caller closes the client.
//
// A memory:// or empty URL is ErrInvalid (there is no client to open);
// errors name the URL with its password redacted, and a server that does
// not answer is ErrUnavailable.
func OpenRedisClient(ctx context.Context, rawURL string) (redis.UniversalClient, string, error) {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" || rawURL == "memory:" || strings.HasPrefix(rawURL, "memory://") {
		return nil, "", fmt.Errorf("store: open %q: %w: not a Redis URL (want redis://, rediss:// or unix://)", RedactURL(rawURL), ErrInvalid)
	}
	cfg, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("store: open %s: %w", RedactURL(rawURL), err)
	}
	c := cfg.client()
	pctx, cancel := context.WithTimeout(ctx, OpenPingTimeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, "", fmt.Errorf("store: open %s: %w", RedactURL(rawURL), mapErr(pctx, "ping", err))
	}
	return c, cfg.store.Prefix, nil
}
