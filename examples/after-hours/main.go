// Command after-hours is a sipbus application: outside office hours
// (OFFICE_HOURS, e.g. "09:00-17:00", in the zone TZ) calls go to
// another user (FORWARD_TO, e.g. sip:night@example.com); during them
// they ring the callee. Route the calls to it with `app: after-hours`.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sipbus/sipbus/sdk/go/app"
)

func main() {
	var from, to time.Time
	var err error
	if h := os.Getenv("OFFICE_HOURS"); len(h) == 11 {
		from, err = time.Parse("15:04", h[:5])
		if err == nil {
			to, err = time.Parse("15:04", h[6:])
		}
	}
	forward := os.Getenv("FORWARD_TO")
	if from.IsZero() && to.IsZero() || err != nil || forward == "" {
		log.Fatal("OFFICE_HOURS (HH:MM-HH:MM) and FORWARD_TO (an AOR) are required")
	}
	open := func(now time.Time) bool {
		m := now.Hour()*60 + now.Minute()
		return m >= from.Hour()*60+from.Minute() && m < to.Hour()*60+to.Minute()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = app.Run(ctx, app.Options{Name: "after-hours", NATS: os.Getenv("SIPBUS_NATS_URL")},
		func(ctx context.Context, r *app.Request) app.Answer {
			if open(time.Now()) {
				return app.ProxyUser(r.RequestURI())
			}
			return app.ProxyUser(forward)
		})
	if err != nil {
		log.Fatal(err)
	}
}
