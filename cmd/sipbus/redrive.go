package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/cmd/sipbus/internal/replay"
	"github.com/sipbus/sipbus/pkg/notifyapi"
)

// redrive re-drives a subscriber with the call's events, side effects
// fenced: the notifier's replay command, or an SDK application's replay
// endpoint (app:NAME), gets the call's call.* events (the SIP messages
// are not their input) in dry-run mode and answers what it would have
// done; the table lists it. No mail is sent, no program runs, an
// application reports instead of acting (package sdk/go/app).
func redrive(ctx context.Context, natsURL, to string, call *replay.Call, stdout io.Writer) error {
	nc, err := nats.Connect(natsURL, nats.Name("sipbus-replay"))
	if err != nil {
		return fmt.Errorf("--nats %s: %w", natsURL, err)
	}
	defer nc.Close()
	req := notifyapi.ReplayRequest{DryRun: true}
	for _, it := range call.Items {
		if it.Call == nil {
			continue
		}
		b, err := json.Marshal(toCloudEvent(it.Call))
		if err != nil {
			return err
		}
		req.Events = append(req.Events, b)
	}
	if len(req.Events) == 0 {
		return fmt.Errorf("--to %s: the call has no call event to re-drive it with", to)
	}
	var rep *notifyapi.ReplayReply
	if name, ok := strings.CutPrefix(to, "app:"); ok {
		rep, err = appReplay(ctx, nc, name, req)
	} else {
		rep, err = (&notifyapi.Client{NC: nc}).Replay(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("--to %s: %w", to, err)
	}
	fmt.Fprintf(stdout, "replay of %s to %s: %d events, dry-run (nothing sent, nothing run)\n", call.CallID, to, len(req.Events))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tWOULD\tTO / RULE\tSUBJECT / ARGV / DETAIL")
	for _, a := range rep.Actions {
		who, what := a.To, a.Subject
		if a.Kind == "exec" {
			who, what = a.Rule, fmt.Sprintf("%q", a.Argv)
		}
		if what == "" || a.Kind == "effect" {
			what = a.Detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.EventType, a.Kind, orDash(quoteIf(who)), fmt.Sprintf("%q", what))
	}
	return tw.Flush()
}

// appReplay asks an SDK application's replay endpoint
// (sipbus.app.NAME.replay, the notifier's wire format).
func appReplay(ctx context.Context, nc *nats.Conn, name string, req notifyapi.ReplayRequest) (*notifyapi.ReplayReply, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, "sipbus.app."+name+".replay", b)
	if err != nil {
		return nil, fmt.Errorf("application %s did not answer (is it running?): %w", name, err)
	}
	var rep notifyapi.ReplayReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return nil, fmt.Errorf("application %s: bad reply: %w", name, err)
	}
	if rep.Status != 200 {
		return nil, fmt.Errorf("application %s: %d %s", name, rep.Status, rep.Reason)
	}
	return &rep, nil
}
