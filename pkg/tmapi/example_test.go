package tmapi_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/tmapi"
)

// Click-to-dial's first leg: INVITE the caller's phones (an AOR of ours:
// tm forks to its registered contacts), watch them ring, then send a
// REFER in the dialog the 2xx created, and hear of the NOTIFYs on the
// owner's dialog subject. Cancelling ctx while it rings CANCELs the INVITE.
func ExampleClient_UAC() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	c := &tmapi.Client{NC: nc}
	// Subscribe first: requests in the dialog may come before UAC returns.
	sub, _ := nc.Subscribe(tmapi.DialogSubjects("ctd"), func(m *nats.Msg) { fmt.Println("in dialog:", m.Subject) })
	defer func() { _ = sub.Unsubscribe() }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.UAC(ctx, &tmapi.UAC{
		Method: "INVITE", RequestURI: "sip:alice@example.com", From: "Click to dial <sip:ctd@example.com>",
		Body: "v=0\r\n...", ContentType: "application/sdp", Owner: "ctd",
	}, func(p *tmapi.Response) { fmt.Println("progress:", p.Status, p.Reason) })
	if err != nil || r.Status >= 300 {
		fmt.Println("caller did not answer:", r, err)
		return
	}
	refer, err := c.UAC(ctx, &tmapi.UAC{Method: "REFER", DialogID: r.DialogID, Headers: []string{"Refer-To: <sip:bob@example.com>"}}, nil)
	fmt.Println(refer, err)
}
