package app

import (
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// Emission is one call event to publish.
type Emission struct {
	Subject  string // NATS subject (call.<event>.<p>)
	ID       string // stable CloudEvent id
	CallKey  string
	CallID   string
	PTx      string // proxy transaction the call belongs to
	Terminal bool   // call.ended / call.missed: at most one per call
	Data     bus.Typed
}

// newCall starts the call an initial INVITE opens (nil for anything else).
func (e *Engine) newCall(in *Inbound, localUser bool) *callInfo {
	m := in.Msg
	if m.Str(m.Method) != "INVITE" || hasToTag(m) {
		return nil
	}
	c := &callInfo{LocalUser: localUser, Started: e.d.Now()}
	if f, err := m.From(); err == nil {
		c.Caller = newParty(f.Display, f.URI.String())
		c.CallerTag = f.Tag()
	}
	if t, err := m.To(); err == nil {
		c.Callee = newParty(t.Display, t.URI.String())
	}
	return c
}

// Limits of a party in call events (schemas/sipbus.call.*.v1.json): a
// longer display name or URI, which the network may send, is cut.
const (
	maxDisplay = 1024
	maxURI     = 8192
)

func newParty(display, uri string) party {
	return party{Display: clip(display, maxDisplay), URI: clip(uri, maxURI)}
}

// clip cuts s to at most n bytes (so at most n characters once encoded).
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (c *callInfo) parties() (events.Party, events.Party) {
	return events.Party{Display: c.Caller.Display, URI: c.Caller.URI}, events.Party{Display: c.Callee.Display, URI: c.Callee.URI}
}

func (e *Engine) emission(event, ck string, p *ptx, data bus.Typed) Emission {
	return Emission{
		Subject: bus.SubjectCall(event, ck), ID: "call." + event + "." + ck + "." + p.ID,
		CallKey: ck, CallID: p.CallID, PTx: p.ID, Data: data,
	}
}

func (e *Engine) callStarted(ck string, p *ptx) Emission {
	caller, callee := p.Call.parties()
	m := &events.CallStarted{
		CallID: p.CallID, CallKey: ck, Caller: caller, Callee: callee,
		StartedAt: p.Call.Started, Edge: p.Src.Edge, Source: p.Src.Remote,
	}
	m.RequestURI = requestURI(p)
	return e.emission(bus.CallEventStarted, ck, p, m)
}

// requestURI is the Request-URI of the call's initial INVITE (p.Req),
// else the callee's URI.
func requestURI(p *ptx) string {
	if req := p.Req; len(req) > 0 {
		if i := indexSP(req); i > 0 {
			if j := indexSP(req[i+1:]); j > 0 {
				return clip(string(req[i+1:i+1+j]), maxURI)
			}
		}
	}
	return p.Call.Callee.URI
}

func indexSP(b []byte) int {
	for i, c := range b {
		if c == ' ' {
			return i
		}
		if c == '\r' || c == '\n' {
			return -1
		}
	}
	return -1
}

func (e *Engine) callRinging(ck string, p *ptx, status int) Emission {
	caller, callee := p.Call.parties()
	return e.emission(bus.CallEventRinging, ck, p, &events.CallRinging{
		CallID: p.CallID, CallKey: ck, Caller: caller, Callee: callee, Status: status, At: e.d.Now(),
	})
}

func (e *Engine) callAnswered(ck string, p *ptx, contact string) Emission {
	caller, callee := p.Call.parties()
	return e.emission(bus.CallEventAnswered, ck, p, &events.CallAnswered{
		CallID: p.CallID, CallKey: ck, Caller: caller, Callee: callee, Contact: contact,
		StartedAt: p.Call.Started, AnsweredAt: p.Call.Answered,
	})
}

func (e *Engine) callMissed(ck string, p *ptx, now time.Time) Emission {
	caller, callee := p.Call.parties()
	em := e.emission(bus.CallEventMissed, ck, p, &events.CallMissed{
		CallID: p.CallID, CallKey: ck, Caller: caller, Callee: callee,
		StartedAt: p.Call.Started, EndedAt: now, Status: p.Final,
		Reason: events.MissedReason(p.Final, p.Cancelled, p.TimedOut), LocalUser: p.Call.LocalUser,
		RequestURI: requestURI(p),
	})
	em.Terminal = true
	em.ID = "call.terminal." + ck + "." + p.ID
	return em
}

func (e *Engine) callEnded(ck string, d *dialog, hangup, reason string) Emission {
	caller, callee := d.Call.parties()
	p := &ptx{ID: d.PTx, CallID: d.CallID}
	em := e.emission(bus.CallEventEnded, ck, p, &events.CallEnded{
		CallID: d.CallID, CallKey: ck, Caller: caller, Callee: callee, StartedAt: d.Call.Started,
		AnsweredAt: d.Call.Answered, EndedAt: e.d.Now(), HangupBy: hangup, Reason: reason,
	})
	em.Terminal = true
	em.ID = "call.terminal." + ck + "." + d.PTx
	return em
}
