package ports

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/notifyapi"
	"github.com/sipbus/sipbus/services/notifier/internal/adapters"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// MaxReplayEvents caps the events of one replay request.
const MaxReplayEvents = 1000

type replayReply struct{ notifyapi.ReplayReply }

func (r replayReply) status() notifyapi.Reply { return r.Reply }

// Replay runs events through the notifier's handlers in dry-run mode
// (package doc of services/notifier: "Replay"): the same directory,
// templates and exec rules, but a recorder in place of the mail server,
// the program runner and the dead-letter log, and a fresh in-memory fence
// and rate-limit state, so nothing is sent, run or written and a replay
// never marks a real notification done. The reply says, per event, what
// would have been done.
func (h *Handlers) Replay(ctx context.Context, req notifyapi.ReplayRequest) replayReply {
	switch {
	case !req.DryRun:
		return replayReply{notifyapi.ReplayReply{Reply: notifyapi.Reply{Status: 400, Field: "dry_run", Reason: "dry_run: must be true (a replay only reports what would be done)"}}}
	case len(req.Events) > MaxReplayEvents:
		return replayReply{notifyapi.ReplayReply{Reply: notifyapi.Reply{Status: 400, Field: "events", Reason: fmt.Sprintf("events: at most %d", MaxReplayEvents)}}}
	}
	evs := make([]*bus.Event, 0, len(req.Events))
	for i, raw := range req.Events {
		ev, err := decodeStructured(raw)
		if err != nil {
			return replayReply{notifyapi.ReplayReply{Reply: reply(400, fmt.Sprintf("events[%d]: %v", i, err))}}
		}
		evs = append(evs, ev)
	}
	rec := &recorder{}
	d := h.dryRun(rec)
	var out []events.NotifierReplayAction
	for _, ev := range evs {
		rec.start(ev)
		if ev.Type == events.TypeCallMissed && h.Sender != nil {
			var m events.CallMissed
			if err := bus.DecodeJSON(ev.Data, &m); err != nil {
				rec.add(events.NotifierReplayAction{Kind: "error", Detail: "data: " + app.Text(err.Error(), 512)})
			} else if err := d.OnCallMissed(ctx, ev, &m); err != nil {
				rec.add(events.NotifierReplayAction{Kind: "error", Detail: app.Text(err.Error(), 512)})
			} else if len(rec.cur) == 0 {
				rec.add(events.NotifierReplayAction{Kind: "none", Detail: "no mail: the callee is not a local subscriber with an e-mail address and missed-call mail on"})
			}
		}
		for _, r := range h.Rules {
			if !app.MatchType(r.Events, ev.Type) {
				continue
			}
			n := len(rec.cur)
			if err := d.OnExec(r)(ctx, ev); err != nil {
				rec.add(events.NotifierReplayAction{Kind: "error", Detail: app.Text(err.Error(), 512)})
			}
			for i := n; i < len(rec.cur); i++ {
				rec.cur[i].Rule = r.Name
			}
		}
		if len(rec.cur) == 0 {
			rec.add(events.NotifierReplayAction{Kind: "none", Detail: "no handler of this notifier takes " + app.Text(ev.Type, 128)})
		}
		out = append(out, rec.cur...)
	}
	h.Log.Info("notifier: replay (dry-run)", "events", len(evs), "actions", len(out))
	return replayReply{notifyapi.ReplayReply{Reply: reply(200, "dry-run: nothing was sent"), Actions: out}}
}

// dryRun is a copy of h whose side effects go to rec.
func (h *Handlers) dryRun(rec *recorder) *Handlers {
	d := &Handlers{
		ID: h.ID + "-replay", Directory: h.Directory, State: adapters.NewMemory(h.Now), Runner: rec,
		Failures: rec, Templates: h.Templates, Options: h.Options, Now: h.Now,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		RateLimit: h.RateLimit, RateWindow: h.RateWindow, Backoff: h.Backoff, MaxDeliver: 1,
		Lease: h.Lease, FenceTTL: h.FenceTTL, Rules: h.Rules,
	}
	if h.Sender != nil {
		d.Sender = rec
	}
	return d
}

// decodeStructured reads a CloudEvent in the structured JSON form.
func decodeStructured(raw json.RawMessage) (*bus.Event, error) {
	var ce struct {
		ID          string          `json:"id"`
		Source      string          `json:"source"`
		Type        string          `json:"type"`
		Subject     string          `json:"subject"`
		Time        time.Time       `json:"time"`
		CallKey     string          `json:"callkey"`
		DataSchema  string          `json:"dataschema"`
		NATSSubject string          `json:"natssubject"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &ce); err != nil {
		return nil, fmt.Errorf("not a CloudEvent JSON object: %v", err)
	}
	switch {
	case ce.ID == "":
		return nil, fmt.Errorf("id: required")
	case ce.Type == "":
		return nil, fmt.Errorf("type: required")
	}
	return &bus.Event{ID: ce.ID, Source: ce.Source, Type: ce.Type, Subject: ce.Subject, Time: ce.Time,
		CallKey: ce.CallKey, DataSchema: ce.DataSchema, NATSSubject: ce.NATSSubject, Data: ce.Data, Delivery: 1}, nil
}

// recorder stands for the mail server, the program runner and the
// dead-letter log of a dry run: it records, and reports success.
type recorder struct {
	mu  sync.Mutex
	ev  *bus.Event
	cur []events.NotifierReplayAction
}

var (
	_ Sender     = (*recorder)(nil)
	_ Runner     = (*recorder)(nil)
	_ FailureLog = (*recorder)(nil)
)

func (r *recorder) start(ev *bus.Event) {
	r.mu.Lock()
	r.ev, r.cur = ev, nil
	r.mu.Unlock()
}

func (r *recorder) add(a events.NotifierReplayAction) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a.EventID, a.EventType = r.ev.ID, r.ev.Type
	r.cur = append(r.cur, a)
}

func (r *recorder) Send(_ context.Context, m *app.Mail) error {
	r.add(events.NotifierReplayAction{Kind: events.NotifyMail, To: m.To.Addr, Subject: m.Subject, MessageID: m.MessageID})
	return nil
}

func (r *recorder) Run(_ context.Context, run adapters.Run) adapters.RunResult {
	r.add(events.NotifierReplayAction{Kind: events.NotifyExec, Argv: run.Argv, Detail: strconv.Itoa(len(run.Env)) + " variables"})
	return adapters.RunResult{}
}

func (r *recorder) Publish(_ context.Context, nf *events.NotifyFailed) error {
	r.add(events.NotifierReplayAction{Kind: "error", Rule: nf.Rule, To: nf.To, Detail: "would be dead-lettered: " + nf.Error})
	return nil
}

func (r *recorder) Last(context.Context, string) (*events.NotifyFailed, error) { return nil, nil }
func (r *recorder) List(context.Context) ([]events.NotifyFailed, error)        { return nil, nil }
