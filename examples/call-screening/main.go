// Command call-screening is a sipbus application: callers on a block
// list in Redis (the set screen:blocked of From URIs) get 603 Decline;
// everybody else rings the callee's registered phone. Route the calls to
// it with `app: screen` (see README.md).
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/sdk/go/app"
)

func main() {
	opt, err := redis.ParseURL(os.Getenv("SIPBUS_REDIS_URL"))
	if err != nil {
		log.Fatalf("SIPBUS_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = app.Run(ctx, app.Options{Name: "screen", NATS: os.Getenv("SIPBUS_NATS_URL")},
		func(ctx context.Context, r *app.Request) app.Answer {
			blocked, err := rdb.SIsMember(ctx, "screen:blocked", r.From()).Result()
			switch {
			case err != nil:
				return app.Reply(500, "Screening Unavailable")
			case blocked:
				return app.Reply(603, "Decline")
			}
			return app.ProxyUser(r.RequestURI())
		})
	if err != nil {
		log.Fatal(err)
	}
}
