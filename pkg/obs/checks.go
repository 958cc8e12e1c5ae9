package obs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipbus/sipbus/pkg/store"
)

// NATS checks that nc is connected and answers a PING within the check's
// deadline; the round trip goes to rtt when it is not nil.
func NATS(nc *nats.Conn, rtt prometheus.Observer) Check {
	return func(ctx context.Context) error {
		if st := nc.Status(); st != nats.CONNECTED {
			return fmt.Errorf("nats: %s", st)
		}
		start := time.Now()
		if err := nc.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("nats: ping: %w", err)
		}
		if rtt != nil {
			rtt.Observe(time.Since(start).Seconds())
		}
		return nil
	}
}

// Stream checks that the JetStream stream exists.
func Stream(js jetstream.JetStream, name string) Check {
	return func(ctx context.Context) error {
		if _, err := js.Stream(ctx, name); err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("stream %s: not found", name)
			}
			return fmt.Errorf("stream %s: %w", name, err)
		}
		return nil
	}
}

// Consumer checks that the durable consumer of stream exists and has no
// more than maxPending messages waiting (its lag, also set on lag when
// not nil). A replica that has fallen this far behind is taken out of
// service until it catches up.
func Consumer(js jetstream.JetStream, stream, consumer string, maxPending uint64, lag *prometheus.GaugeVec) Check {
	return func(ctx context.Context) error {
		c, err := js.Consumer(ctx, stream, consumer)
		if err != nil {
			return fmt.Errorf("consumer %s/%s: %w", stream, consumer, err)
		}
		info := c.CachedInfo()
		if fresh, err := c.Info(ctx); err == nil {
			info = fresh
		}
		if lag != nil {
			lag.WithLabelValues(stream, consumer).Set(float64(info.NumPending))
		}
		if maxPending > 0 && info.NumPending > maxPending {
			return fmt.Errorf("consumer %s/%s: %d messages pending (over %d): not keeping up", stream, consumer, info.NumPending, maxPending)
		}
		return nil
	}
}

// Redis checks that Redis answers ping (a PING: store.Store's Ping, a
// go-redis client's Ping(ctx).Err); the round trip goes to rtt when it is
// not nil.
func Redis(ping func(context.Context) error, rtt prometheus.Observer) Check {
	return func(ctx context.Context) error {
		start := time.Now()
		if err := ping(ctx); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		if rtt != nil {
			rtt.Observe(time.Since(start).Seconds())
		}
		return nil
	}
}

// RedisURL opens a client of its own on the Redis of rawURL (any form
// store.Open takes; it must answer now) for the Redis check of a service
// whose state hides its client. close closes it.
func RedisURL(ctx context.Context, rawURL string, rtt prometheus.Observer) (c Check, close func() error, err error) {
	rc, _, err := store.OpenRedisClient(ctx, rawURL)
	if err != nil {
		return nil, nil, err
	}
	return Redis(func(ctx context.Context) error { return rc.Ping(ctx).Err() }, rtt), rc.Close, nil
}
