package app_test

import (
	"context"
	"log"

	"github.com/sipbus/sipbus/sdk/go/app"
)

// An application that declines one caller and rings the callee's phone
// for everybody else (route: `app: screen`).
func ExampleRun() {
	ctx := context.Background()
	err := app.Run(ctx, app.Options{Name: "screen", NATS: "nats://127.0.0.1:4222"},
		func(ctx context.Context, r *app.Request) app.Answer {
			if r.From() == "sip:spam@example.com" {
				return app.Reply(603, "Decline")
			}
			return app.ProxyUser(r.RequestURI())
		})
	if err != nil {
		log.Print(err)
	}
}
