package ports

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/sipfsm"
)

// QueueGroup is the queue group of the registrar replicas: each REGISTER
// goes to one of them.
const QueueGroup = "sipbus-registrar"

// Input feeds REGISTER requests to the handler: a core NATS queue
// subscription on sip.*.in.req.REGISTER.* (the edges publish every received
// request there, and the stream keeps it at the same time). There are no
// acknowledgements: a REGISTER a replica does not get is retransmitted by
// the UA (RFC 3261 §17.1.2), as a lost datagram is, and a REGISTER handled
// late is worse than none (MaxEventAge).
//
// Requests run on lanes by call key: the REGISTERs of one UA (one
// Call-ID) one at a time, in arrival order, as digest nonce-counts need.
// When they wait in the lanes the overload target or longer, on average
// over two intervals in a row (bus.Overload), new REGISTERs are answered 503 with Retry-After at once and the
// replica's beat says so, so the edges refuse REGISTERs before they reach
// it.
type Input struct {
	h      *Register
	lanes  *bus.Lanes
	beat   *bus.Beater
	sub    bus.Sub
	log    *slog.Logger
	tracer *obs.Tracer

	Received, Shed, Bad atomic.Uint64
	// InFlight is the REGISTERs queued or being handled now.
	InFlight atomic.Int64
}

// SpanRegister is the span of a traced REGISTER's handling.
const SpanRegister = "registrar.register"

// InputOptions tune the input.
type InputOptions struct {
	ID            string
	Lanes         int           // default 64 (bus.NewLanes; the registrar's config gives 256), each queuing its share of bus.DefaultLaneQueue
	QueueTarget   time.Duration // default bus.DefaultQueueTarget
	QueueInterval time.Duration // default bus.DefaultQueueInterval
	Log           *slog.Logger
	Tracer        *obs.Tracer // nil: no spans
	// Core subscribes to REGISTERs; default bus.NATS(nc). In `sipbus up`
	// the process's bus.Local, so the edge's REGISTERs arrive in-process.
	Core bus.Core
}

// StartInput subscribes h to REGISTER requests.
func StartInput(ctx context.Context, nc *nats.Conn, h *Register, opt InputOptions) (*Input, error) {
	in := &Input{h: h, log: opt.Log, tracer: opt.Tracer, lanes: bus.NewLanes(opt.Lanes, 0, opt.QueueTarget, opt.QueueInterval)}
	in.beat = &bus.Beater{NC: nc, Service: "registrar", ID: opt.ID, Load: &in.lanes.Load}
	in.lanes.OnChange = func(bool) { in.beat.Beat() }
	core := opt.Core
	if core == nil {
		core = bus.NATS(nc)
	}
	sub, err := core.QueueSubscribe(bus.RequestInFilter("REGISTER"), QueueGroup, in.onMsg, bus.Inline())
	if err != nil {
		in.lanes.Stop()
		return nil, err
	}
	in.sub = sub
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		in.Stop()
		return nil, err
	}
	return in, nil
}

func (in *Input) onMsg(m *nats.Msg) {
	in.Received.Add(1)
	in.InFlight.Add(1)
	ck := bus.CallKeyOf(m.Header)
	in.lanes.Submit(ck, false, func(waited time.Duration) {
		defer in.InFlight.Add(-1)
		s, err := events.DecodeSIP(m)
		if err != nil || s.Type != events.TypeRequestReceived {
			in.Bad.Add(1)
			in.log.Debug("registrar: not a SIP request event", "subject", m.Subject, "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if in.tracer != nil && s.TraceParent != "" {
			var tp string
			var end func()
			ctx, tp, end = in.tracer.Start(ctx, SpanRegister, s.TraceParent, "sipbus.callkey", s.CallKey, "cloudevents.event_type", s.Type)
			defer end()
			ctx, s.TraceParent = bus.WithTraceParent(ctx, tp), tp // the reply and the reg.* events join the span
		}
		// waited since the edge received it (the stream's delivery
		// included), as tm counts it; the lane's wait if unstamped
		shed := in.lanes.Load.Backstop(max(s.Waited(time.Now()), waited), sipfsm.DefaultTimers().T1)
		if shed {
			in.Shed.Add(1)
		}
		if err := in.h.Handle(ctx, s, shed); err != nil {
			in.log.Warn("registrar: REGISTER", "call_key", ck, "err", err)
		}
	})
}

// Beats publishes the replica's beat (with its load) until ctx ends.
func (in *Input) Beats(ctx context.Context) { in.beat.Run(ctx) }

// Load is this replica's overload detector: the latest REGISTER's
// queueing delay (from the edge's arrival stamp to its handling), and
// whether it holds.
func (in *Input) Load() *bus.Overload { return &in.lanes.Load }

// Stop unsubscribes and lets queued REGISTERs finish.
func (in *Input) Stop() {
	if in.sub != nil {
		_ = in.sub.Drain()
	}
	in.lanes.Stop()
}
