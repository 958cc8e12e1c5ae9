package app

import (
	"context"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// Blocked takes a block flood control started (Flood's onBlock). It never
// waits: the listener that found the flood goes on reading; the event is
// published by PublishBlocks. Should blocks start faster than they are
// published (the bus is down), the ones that do not fit are logged only.
func (e *Edge) Blocked(b Block) {
	select {
	case e.blocks <- b:
	default:
		e.opt.Log.Warn("flood: source blocked; event not published (queue full)",
			"source", b.Source, "transport", b.Transport, "count", b.Count, "until", b.Until)
	}
}

// PublishBlocks publishes a sipbus.edge.blocked event, and logs a line,
// for each block that starts, until ctx ends.
func (e *Edge) PublishBlocks(ctx context.Context) {
	for {
		select {
		case b := <-e.blocks:
			e.publishBlock(ctx, b)
		case <-ctx.Done():
			return
		}
	}
}

func (e *Edge) publishBlock(ctx context.Context, b Block) {
	e.opt.Log.Warn("flood: source blocked", "source", b.Source, "transport", b.Transport,
		"count", b.Count, "limit", b.Limit, "window", b.Window, "until", b.Until)
	data := &events.EdgeBlocked{
		Edge: e.opt.ID, Source: b.Source, Transport: b.Transport, Count: b.Count, Limit: b.Limit,
		WindowMs: b.Window.Milliseconds(), At: b.At.UTC(), Until: b.Until.UTC(),
	}
	ev, err := bus.NewEvent(e.ids.Next(), b.Source, "", data)
	if err != nil {
		e.opt.Log.Warn("flood: blocked event", "source", b.Source, "err", err)
		return
	}
	ev.Source, ev.Time = e.opt.Source, b.At.UTC()
	if err := e.pub.PublishMsg(ctx, bus.Encode(bus.SubjectEdge(bus.EdgeEventBlocked, e.opt.ID), ev)); err != nil {
		e.opt.Log.Warn("flood: publish blocked event", "source", b.Source, "err", err)
		return
	}
	e.C.Published.Add(1)
}
