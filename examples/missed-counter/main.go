// Command missed-counter is a sipbus application that only listens: it
// counts each user's missed calls in Redis (hash missed, field = the
// callee's AOR), once per call whatever the redeliveries.
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
	err = app.Run(ctx, app.Options{Name: "missed-counter", NATS: os.Getenv("SIPBUS_NATS_URL"),
		OnCall: func(ctx context.Context, ev *app.CallEvent) error {
			if ev.Missed == nil {
				return nil
			}
			first, err := app.Once(ctx, ev.ID)
			if err != nil || !first {
				return err
			}
			callee := ev.Missed.RequestURI
			if callee == "" {
				callee = ev.Missed.Callee.URI
			}
			if app.DryRun(ctx) { // sipbus replay --to app:missed-counter
				app.Report(ctx, "count a missed call for "+callee)
				return nil
			}
			if err := rdb.HIncrBy(ctx, "missed", callee, 1).Err(); err != nil {
				_ = app.Forget(ctx, ev.ID)
				return err
			}
			return nil
		}}, nil)
	if err != nil {
		log.Fatal(err)
	}
}
