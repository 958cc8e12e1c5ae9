// Package ports runs tm's inputs: the durable consumer of SIP events and the
// loop that claims due timers from the store.
package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// Durable is tm's durable consumer name, shared by every replica.
const Durable = "tm"

// registerSubjects is the prefix of the REGISTER events
// (bus.SubjectRequestIn("REGISTER", callkey)).
var registerSubjects = strings.TrimSuffix(bus.SubjectRequestIn("REGISTER", "x"), "x")

// Filters are the subjects tm consumes.
var Filters = []string{"sip.in.req.>", "sip.in.res.>", "sip.in.bad.>"}

// Consume subscribes the engine to SIP events.
func Consume(ctx context.Context, js jetstream.JetStream, eng *app.Engine, workers int, log *slog.Logger) (*bus.Subscription, error) {
	// REGISTER goes to the registrar, which consumes it itself: when the
	// route table says so for every REGISTER, tm acknowledges those events
	// unread (at REGISTER load, decoding them was 7 % of the CPU).
	skipRegister := eng.AlwaysRegistrar("REGISTER")
	h := func(ctx context.Context, ev *bus.Event) error {
		switch ev.Type {
		case events.TypeRequestReceived:
			if skipRegister && strings.HasPrefix(ev.NATSSubject, registerSubjects) {
				return nil
			}
			return handle[events.RequestReceived](ctx, ev, func(d *events.RequestReceived) *events.SIPMessage { return &d.SIPMessage }, eng.Request)
		case events.TypeResponseReceived:
			return handle[events.ResponseReceived](ctx, ev, func(d *events.ResponseReceived) *events.SIPMessage { return &d.SIPMessage }, eng.Response)
		case events.TypeMessageRejected:
			var status int
			return handle[events.MessageRejected](ctx, ev, func(d *events.MessageRejected) *events.SIPMessage {
				status = d.Status
				return &d.Request
			}, func(ctx context.Context, in *app.Inbound) error { return eng.Rejected(ctx, in, status) })
		}
		return nil
	}
	return bus.Subscribe(ctx, js, Durable, h, bus.SubscribeOptions{
		Filters: Filters, Concurrency: workers, Ordered: true, AckWait: 5 * time.Second,
		Backoff: []time.Duration{50 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}, Logger: log,
	})
}

func handle[T any](ctx context.Context, ev *bus.Event, msg func(*T) *events.SIPMessage, fn func(context.Context, *app.Inbound) error) error {
	return bus.TypedFunc(func(ctx context.Context, ev *bus.Event, d *T) error {
		sm := msg(d)
		m, err := sipmsg.Parse(sm.Raw, sipmsg.Datagram)
		if err != nil && sm.Network.Transport == "tcp" {
			m, err = sipmsg.Parse(sm.Raw, sipmsg.Stream)
		}
		if err != nil {
			return bus.Permanent(fmt.Errorf("tm: event %s: %w", ev.ID, err))
		}
		ck := ev.CallKey
		if ck == "" {
			ck = sipmsg.CallKey(m.CallID())
		}
		err = fn(ctx, &app.Inbound{
			Msg: m, TxKey: sm.TxKey, CallKey: ck, Event: sm,
			Src: app.Source{Transport: sm.Network.Transport, Remote: sm.Network.Remote, Flow: sm.Network.Flow, Edge: sm.Network.Edge},
		})
		if errors.Is(err, store.ErrInvalid) {
			return bus.Permanent(err)
		}
		return err
	})(ctx, ev)
}

// Timers claims due timers and hands them to the engine.
type Timers struct {
	Store  store.TimerStore
	Engine *app.Engine
	Log    *slog.Logger
	Every  time.Duration // poll interval; default 20ms
	Lease  time.Duration // default 5s: a claimer that dies leaves it to another after this
	Batch  int           // default 256

	wg sync.WaitGroup
}

// Run polls until ctx ends.
func (t *Timers) Run(ctx context.Context) {
	if t.Every <= 0 {
		t.Every = 20 * time.Millisecond
	}
	if t.Lease <= 0 {
		t.Lease = 5 * time.Second
	}
	if t.Batch <= 0 {
		t.Batch = 256
	}
	tick := time.NewTicker(t.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.wg.Wait()
			return
		case <-tick.C:
		}
		for {
			due, err := t.Store.Claim(ctx, time.Now(), t.Batch, t.Lease)
			if err != nil {
				if ctx.Err() == nil {
					t.Log.Warn("tm: claim timers", "err", err)
				}
				break
			}
			for _, tm := range due {
				t.wg.Add(1)
				go t.fire(context.WithoutCancel(ctx), tm)
			}
			if len(due) < t.Batch {
				break
			}
		}
	}
}

func (t *Timers) fire(ctx context.Context, tm store.Timer) {
	defer t.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, t.Lease)
	defer cancel()
	if err := t.Engine.Timer(ctx, tm.Payload); err != nil {
		t.Log.Warn("tm: timer", "id", tm.ID, "err", err)
		if tm.Claims < 10 {
			return // the lease runs out and a replica tries again
		}
	}
	if _, err := t.Store.Done(ctx, tm.ID, tm.Token); err != nil {
		t.Log.Warn("tm: timer done", "id", tm.ID, "err", err)
	}
}
