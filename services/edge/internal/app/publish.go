package app

import (
	"context"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// received builds the event of a message as it arrived. Raw is copied: the
// packet's buffer is reused once Handle returns.
func (e *Edge) received(p *Packet, m *sipmsg.Msg, typ, ck string) *events.SIP {
	s := &events.SIP{
		Type: typ, ID: e.ids.Next(), Source: e.opt.Source, Time: p.At,
		CallKey: ck, Raw: append([]byte(nil), m.Raw...),
		Transport: p.Transport, Local: p.Local.String(), Remote: p.Remote.String(),
		Flow: p.Flow, Edge: e.opt.ID,
	}
	if !p.Low.IsZero() && p.Low.Before(p.At) {
		s.Backlog = p.At.Sub(p.Low)
	}
	return s
}

// publishReceived publishes a received request or response on
// sip.<p>.in.req.<METHOD> / sip.<p>.in.res.<N>xx, the call key in its
// callkey attribute.
func (e *Edge) publishReceived(ctx context.Context, p *Packet, m *sipmsg.Msg, ck string) error {
	var s *events.SIP
	var subject string
	if m.Request {
		s = e.received(p, m, events.TypeRequestReceived, ck)
		subject = bus.SubjectRequestIn(m.Str(m.Method), ck)
	} else {
		s = e.received(p, m, events.TypeResponseReceived, ck)
		subject = bus.SubjectResponseIn(m.StatusCode, ck)
	}
	if e.opt.Tracer != nil {
		var end func()
		ctx, s.TraceParent, end = e.opt.Tracer.Start(ctx, SpanReceive, "", traceAttrs(m, ck, e.opt.ID, p.Transport)...)
		defer end()
	}
	if err := e.pub.PublishMsg(ctx, s.Encode(subject)); err != nil {
		return err
	}
	e.C.Published.Add(1)
	e.work()
	return nil
}

// publishRejected publishes a request the edge answered statelessly, with
// the status and reason of the reply: tm starts and misses the call of a
// rejected initial INVITE, so that every INVITE has its terminal event.
func (e *Edge) publishRejected(ctx context.Context, p *Packet, m *sipmsg.Msg, f *sipmsg.Fault) {
	ck := sipmsg.CallKey(m.CallID())
	s := e.received(p, m, events.TypeMessageRejected, ck)
	s.Status, s.Reason, s.Header = f.Status, f.Reason, strings.TrimSpace(f.Header.Name())
	if err := e.pub.PublishMsg(ctx, s.Encode(bus.SubjectRejected(ck))); err != nil {
		e.opt.Log.Warn("publish rejected", "call_key", ck, "err", err)
		return
	}
	e.C.Published.Add(1)
}

// Span names of the edge.
const (
	SpanReceive = "sip.receive" // a message received and published
	SpanSend    = "sip.send"    // a message sent for another service
)

// traceAttrs are the attributes of a span about message m.
func traceAttrs(m *sipmsg.Msg, ck, edge, transport string) []string {
	if m.Request {
		return []string{"sip.method", m.Str(m.Method), "sipbus.callkey", ck, "sipbus.edge", edge, "network.transport", transport}
	}
	return []string{"sip.status_code", strconv.Itoa(m.StatusCode), "sipbus.callkey", ck, "sipbus.edge", edge, "network.transport", transport}
}
