package subscriber

import "github.com/redis/go-redis/v9"

// NewRedisTwoCommands returns the Redis engine in the mode it uses on Redis
// Cluster (hash script, then a separate index command) on any client, so
// the single-node test server exercises that code path too.
func NewRedisTwoCommands(c redis.UniversalClient, prefix string) *Redis {
	return newRedis(c, prefix, false)
}
