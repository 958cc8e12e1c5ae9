package app

import (
	"context"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
)

func (e *Edge) network(p *Packet) events.Network {
	return events.Network{
		Transport: p.Transport, Local: p.Local.String(), Remote: p.Remote.String(),
		Flow: p.Flow, Edge: e.opt.ID,
	}
}

func (e *Edge) sipMessage(p *Packet, m *sipmsg.Msg) events.SIPMessage {
	s := events.NewSIPMessage(m, e.network(p))
	s.ReceivedAt = p.At.UTC()
	return s
}

// publishRequest publishes a received request; id "" gets a fresh id.
func (e *Edge) publishRequest(ctx context.Context, p *Packet, m *sipmsg.Msg, ck, key, id string) error {
	s := e.sipMessage(p, m)
	s.TxKey = key
	subject := bus.SubjectRequestIn(m.Str(m.Method), ck)
	if err := e.pub.PublishData(ctx, subject, id, s.CallID, ck, &events.RequestReceived{SIPMessage: s}); err != nil {
		return err
	}
	e.C.Published.Add(1)
	return nil
}

func (e *Edge) publishResponse(ctx context.Context, p *Packet, m *sipmsg.Msg, ck, key string) error {
	s := e.sipMessage(p, m)
	s.TxKey = key
	subject := bus.SubjectResponseIn(m.StatusCode, ck)
	if err := e.pub.PublishData(ctx, subject, "", s.CallID, ck, &events.ResponseReceived{SIPMessage: s}); err != nil {
		return err
	}
	e.C.Published.Add(1)
	return nil
}

func (e *Edge) publishTxCreated(ctx context.Context, p *Packet, m *sipmsg.Msg, ck, key string) {
	callID := m.CallID()
	ev := &events.TxCreated{
		TxKey: key, Method: m.Str(m.Method), Edge: e.opt.ID, Source: p.Remote.String(),
		Transport: p.Transport, CallID: callID, CreatedAt: p.At.UTC(),
	}
	// Stable id: a transaction is created once.
	id := "tx-" + requestEventID(ck, key)[3:]
	if err := e.pub.PublishData(ctx, bus.SubjectTx("created", ck), id, callID, ck, ev); err != nil {
		e.opt.Log.Warn("publish tx.created", "call_key", ck, "err", err)
		return
	}
	e.C.Published.Add(1)
}

func (e *Edge) publishAbsorbed(ctx context.Context, p *Packet, m *sipmsg.Msg, tx *store.Tx) {
	callID := m.CallID()
	method := m.Str(m.Method)
	if !m.Request {
		cs, _ := m.CSeq()
		method = cs.Method
	}
	resent := 0
	if m.Request && m.MethodID != sipmsg.ACK && len(tx.LastResponse) > 0 {
		resent = tx.LastStatus
	}
	ev := &events.TxAbsorbed{
		TxKey: tx.Key, Method: method, Retransmits: tx.Retransmits, ResentStatus: resent,
		Edge: e.opt.ID, CallID: callID,
	}
	if err := e.pub.PublishData(ctx, bus.SubjectTx("absorbed", tx.CallKey), "", callID, tx.CallKey, ev); err != nil {
		e.opt.Log.Warn("publish tx.absorbed", "call_key", tx.CallKey, "err", err)
		return
	}
	e.C.Published.Add(1)
}

func (e *Edge) publishRejected(ctx context.Context, p *Packet, m *sipmsg.Msg, f *sipmsg.Fault, reply []byte) {
	s := e.sipMessage(p, m)
	ck := sipmsg.CallKey(s.CallID)
	ev := &events.MessageRejected{
		Request: s, Status: f.Status, Reason: f.Reason, Header: f.Header.Name(), ResponseRaw: reply,
	}
	if err := e.pub.PublishData(ctx, bus.SubjectRejected(ck), "", s.CallID, ck, ev); err != nil {
		e.opt.Log.Warn("publish rejected", "call_key", ck, "err", err)
		return
	}
	e.C.Published.Add(1)
}

func (e *Edge) publishSent(ctx context.Context, m *sipmsg.Msg, ck string, req *edgeapi.SendRequest, d Dest) {
	callID := m.CallID()
	dest := ""
	if d.Addr.IsValid() {
		dest = d.Addr.String()
	}
	ev := &events.MessageSent{
		Raw: req.Raw, Transport: d.Transport, Dest: dest, Flow: d.Flow, Edge: e.opt.ID,
		TxKey: req.TxKey, RequestedBy: req.RequestedBy, CallID: callID,
	}
	var subject string
	if m.Request {
		ev.Method = m.Str(m.Method)
		subject = bus.SubjectRequestOut(ev.Method, ck)
	} else {
		cs, _ := m.CSeq()
		ev.Method, ev.Status = cs.Method, m.StatusCode
		subject = bus.SubjectResponseOut(m.StatusCode, ck)
	}
	ev.SentAt = time.Now().UTC()
	if err := e.pub.PublishData(ctx, subject, "", callID, ck, ev); err != nil {
		e.opt.Log.Warn("publish sent", "call_key", ck, "err", err)
		return
	}
	e.C.Published.Add(1)
}
