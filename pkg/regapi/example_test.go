package regapi_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/regapi"
)

// A provisioning script adds a subscriber and a PSTN gateway, then shows
// the gateway's binding. Errors name the field at fault.
func ExampleClient() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	c := &regapi.Client{NC: nc}
	ctx := context.Background()

	_, err = c.UserAdd(ctx, regapi.UserAddRequest{AOR: "alice@example.com", Password: "correct-horse", Email: "alice@example.com"})
	var e *regapi.Error
	switch {
	case errors.As(err, &e) && e.Status == 409:
		fmt.Println("alice exists already")
	case err != nil:
		fmt.Println(err) // e.g. registrar: 400 aor: "sip:@x" is not a SIP URI: empty user part
		return
	}
	rep, err := c.ULAdd(ctx, regapi.ULAddRequest{AOR: "pstn@example.com", Contact: "sip:gw@192.0.2.9:5060", Expires: 0})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range rep.Bindings {
		fmt.Println(b.Contact, b.Q, b.Permanent)
	}
}
