package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/mgmt"
)

// Management and replay: every running application is a NATS micro
// service "sipbus-app-NAME" (so `sipbus ps` lists it, with its in-flight
// requests and last error) with one endpoint, replay, on
// ReplaySubject(NAME): `sipbus replay CALL-ID --to app:NAME` sends it a
// call's events (the wire format of sipbus.notifier.replay.v1: dry_run
// must be true) and OnCall runs on each in dry-run mode: DryRun(ctx) is
// true, Once answers from a map of this replay only, and what the handler
// would have done is what it passes to Report. A handler with side
// effects checks DryRun before each.

// ReplaySubject is the replay endpoint of application name.
func ReplaySubject(name string) string { return "sipbus.app." + name + ".replay" }

type dryKey struct{}

type dryRun struct {
	mu      sync.Mutex
	once    map[string]bool
	reports []string
}

// DryRun reports whether ctx is a replay's: side effects must only be
// reported (Report), not done.
func DryRun(ctx context.Context) bool { _, ok := ctx.Value(dryKey{}).(*dryRun); return ok }

// Report records what a handler would have done in a dry run; outside
// one it does nothing.
func Report(ctx context.Context, what string) {
	if d, ok := ctx.Value(dryKey{}).(*dryRun); ok {
		d.mu.Lock()
		d.reports = append(d.reports, what)
		d.mu.Unlock()
	}
}

// register makes the application a micro service with its replay endpoint.
func (a *App) register() error {
	host, _ := os.Hostname()
	a.inst = mgmt.New("app-"+a.opt.Name, a.opt.Name+"-"+host+"-"+strconv.Itoa(os.Getpid()))
	a.opt.Log = a.inst.Logger(a.opt.Log)
	svc, err := micro.AddService(a.nc, a.inst.Config(micro.Config{
		Name: "sipbus-app-" + a.opt.Name, QueueGroup: "sipbus-app-" + a.opt.Name,
		Description: "sipbus application " + a.opt.Name,
	}))
	if err != nil {
		return fmt.Errorf("app: management: %w", err)
	}
	if err := svc.AddEndpoint("replay", micro.HandlerFunc(a.onReplay), micro.WithEndpointSubject(ReplaySubject(a.opt.Name)),
		mgmt.Schema(events.SchemaURL(events.CommandNotifierReplay))); err != nil {
		_ = svc.Stop()
		return err
	}
	a.svc = svc
	return nil
}

type replayReply struct {
	Status  int                           `json:"status"`
	Reason  string                        `json:"reason"`
	Field   string                        `json:"field,omitempty"`
	Actions []events.NotifierReplayAction `json:"actions,omitempty"`
}

func (a *App) onReplay(r micro.Request) {
	var req events.NotifierReplay
	rep := replayReply{Status: 200, Reason: "dry-run: nothing was done"}
	switch fe := events.DecodeCommand(events.CommandNotifierReplay, r.Data(), &req); {
	case fe != nil:
		rep = replayReply{Status: 400, Reason: fe.Error(), Field: fe.Field}
	case !req.DryRun:
		rep = replayReply{Status: 400, Reason: "dry_run: must be true (a replay only reports what would be done)", Field: "dry_run"}
	case a.opt.OnCall == nil:
		rep.Reason = "dry-run: this application takes no call events"
	default:
		d := &dryRun{once: map[string]bool{}}
		ctx := context.WithValue(context.WithValue(context.Background(), appKey{}, a), dryKey{}, d)
		for i, raw := range req.Events {
			var ev bus.Event
			var ce struct {
				ID   string          `json:"id"`
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(raw, &ce); err != nil || ce.ID == "" || ce.Type == "" {
				rep = replayReply{Status: 400, Reason: fmt.Sprintf("events[%d]: want a CloudEvent with id and type", i)}
				break
			}
			ev.ID, ev.Type, ev.Data = ce.ID, ce.Type, ce.Data
			act := events.NotifierReplayAction{EventID: ev.ID, EventType: ev.Type, Kind: "none"}
			call, err := decodeCall(&ev)
			if err == nil {
				d.reports = nil
				err = a.callSafe(ctx, call)
			}
			switch {
			case err != nil:
				act.Kind, act.Detail = "error", err.Error()
				rep.Actions = append(rep.Actions, act)
			case len(d.reports) == 0:
				rep.Actions = append(rep.Actions, act)
			}
			for _, w := range d.reports {
				act.Kind, act.Detail = "effect", w
				rep.Actions = append(rep.Actions, act)
			}
		}
	}
	b, _ := json.Marshal(rep)
	_ = r.Respond(b)
}

// callSafe runs OnCall; a panic is an error.
func (a *App) callSafe(ctx context.Context, ce *CallEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return a.opt.OnCall(ctx, ce)
}
