package ports

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Bus is the edge on NATS: it transmits the messages services publish for
// the edges (sip.*.out.<this edge>.> and, in the queue group of every edge,
// sip.*.out.any.>), beats (sipbus.beat.edge.<id>) and reads the beats of
// tm and registrar replicas for admission, publishes the blocks of flood
// control (edge.blocked.<id>), and serves the micro service "sipbus-edge"
// with the stats endpoint (`nats micro ls`, `sipbus ps`).
type Bus struct {
	nc   *nats.Conn
	core *app.Edge
	opt  BusOptions
	subs []bus.Sub
	svc  micro.Service
	tcp  chan *events.SIP
	stop chan struct{}
	wg   sync.WaitGroup
}

// BusOptions tune the edge's NATS side.
type BusOptions struct {
	Every      time.Duration // beat interval; default bus.DefaultBeatEvery
	TCPWorkers int           // goroutines writing to connections (tcp, tls, ws, wss); default 16
	Log        *slog.Logger
	Inst       *mgmt.Instance // management (sipbus ps); default mgmt.New("edge", id)
	// Core subscribes to the messages to send; default bus.NATS(nc). In
	// `sipbus up` the process's bus.Local, so tm's and the registrar's
	// messages reach the edge in-process.
	Core bus.Core
}

// StartBus subscribes the edge and starts beating.
func StartBus(ctx context.Context, nc *nats.Conn, core *app.Edge, opt BusOptions) (*Bus, error) {
	if opt.Every <= 0 {
		opt.Every = bus.DefaultBeatEvery
	}
	if opt.TCPWorkers <= 0 {
		opt.TCPWorkers = 16
	}
	if opt.Core == nil {
		opt.Core = bus.NATS(nc)
	}
	b := &Bus{nc: nc, core: core, opt: opt, tcp: make(chan *events.SIP, 4096), stop: make(chan struct{})}
	fail := func(err error) (*Bus, error) {
		b.Stop()
		return nil, err
	}
	own, err := opt.Core.Subscribe(bus.EdgeOutFilter(core.ID()), b.onSend, bus.Inline())
	if err != nil {
		return fail(err)
	}
	b.subs = append(b.subs, own)
	anyEdge, err := opt.Core.QueueSubscribe(bus.EdgeOutFilter(bus.AnyEdge), edgeapi.QueueGroup, b.onSend, bus.Inline())
	if err != nil {
		return fail(err)
	}
	b.subs = append(b.subs, anyEdge)
	beats, err := nc.Subscribe(bus.BeatFilter, b.onBeat)
	if err != nil {
		return fail(err)
	}
	_ = beats.SetPendingLimits(1<<20, 512<<20)
	b.subs = append(b.subs, beats)
	inst := opt.Inst
	if inst == nil {
		inst = mgmt.New("edge", core.ID())
	}
	// In-flight work: the server transactions the edge remembers; its
	// counters are the STATS data's "counters".
	inst.SetInFlight(func() int64 { return int64(core.Snapshot().Transactions) })
	inst.SetExtra(func() any { return core.Snapshot() })
	b.svc, err = micro.AddService(nc, inst.Config(micro.Config{
		Name:        edgeapi.ServiceName,
		Description: "sipbus SIP edge",
		Metadata:    map[string]string{"edge_id": core.ID()},
	}))
	if err != nil {
		return fail(err)
	}
	if err := b.svc.AddEndpoint("stats", micro.HandlerFunc(func(r micro.Request) { _ = r.RespondJSON(core.Snapshot()) }),
		micro.WithEndpointSubject(edgeapi.EdgeStatsSubject(core.ID()))); err != nil {
		return fail(err)
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		return fail(err)
	}
	for range opt.TCPWorkers {
		b.wg.Add(1)
		go b.tcpWorker()
	}
	b.wg.Add(1)
	go b.beat()
	b.wg.Add(1)
	go func() { defer b.wg.Done(); core.PublishBlocks(untilClosed(b.stop)) }()
	return b, nil
}

// untilClosed is a context that ends when stop is closed.
func untilClosed(stop <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-stop; cancel() }()
	return ctx
}

// onSend transmits one message; a write to a connection (or a dial) may
// block, so those go to the connection workers and UDP goes out at once.
func (b *Bus) onSend(m *nats.Msg) {
	s, err := events.DecodeSIP(m)
	if err != nil || s.Type != events.TypeMessageSent {
		b.core.C.Undeliverable.Add(1)
		b.opt.Log.Debug("edge: not a message to send", "subject", m.Subject, "err", err)
		return
	}
	if !strings.HasPrefix(s.Dest, "udp:") {
		select {
		case b.tcp <- s:
		case <-b.stop:
		}
		return
	}
	// A datagram is written at once, it waits for nothing: no deadline
	// (a timer per message sent, on tm's goroutine in `sipbus up`).
	b.transmit(context.Background(), s)
}

func (b *Bus) transmit(ctx context.Context, s *events.SIP) {
	if err := b.core.Transmit(ctx, s); err != nil {
		b.opt.Log.Debug("edge: transmit", "id", s.ID, "source", s.Source, "err", err)
	}
}

func (b *Bus) tcpWorker() {
	defer b.wg.Done()
	for {
		select {
		case s := <-b.tcp:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a dial, a blocked connection
			b.transmit(ctx, s)
			cancel()
		case <-b.stop:
			return
		}
	}
}

// onBeat feeds the load reports of tm and registrar replicas to admission.
func (b *Bus) onBeat(m *nats.Msg) {
	bt, err := bus.DecodeBeat(m.Data)
	if err != nil || bt.Service == "edge" {
		return
	}
	var until time.Time
	if bt.Overloaded {
		until = time.Now().Add(2 * bt.Every())
	}
	b.core.Beat(bt.Service, bt.ID, until, time.Duration(bt.WindowDelayMs*float64(time.Millisecond)))
}

// beat publishes this edge's beat every Every, and expires its
// transaction cache on the same tick.
func (b *Bus) beat() {
	defer b.wg.Done()
	t := time.NewTicker(b.opt.Every)
	defer t.Stop()
	send := func() {
		_ = bus.PublishBeat(b.nc, &bus.Beat{
			Service: "edge", ID: b.core.ID(), At: time.Now().UTC(), EveryMs: b.opt.Every.Milliseconds(),
			Overloaded: b.core.Shedding(app.ServiceTM),
		})
	}
	send()
	for {
		select {
		case <-t.C:
			b.core.Expire()
			send()
		case <-b.stop:
			return
		}
	}
}

// Stop unsubscribes (messages already received are still sent), stops
// beating and waits for the TCP workers.
func (b *Bus) Stop() {
	for _, s := range b.subs {
		_ = s.Drain()
	}
	if b.svc != nil {
		_ = b.svc.Stop()
	}
	close(b.stop)
	b.wg.Wait()
}
