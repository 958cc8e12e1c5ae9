package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// ErrNoFlow is returned by a Sender when a flow (connection) is gone.
var ErrNoFlow = errors.New("edge: no such tcp flow")

// ErrUndeliverable wraps why a message to send was not sent.
var ErrUndeliverable = errors.New("edge: message not sent")

// Transmit sends a message another service published for the edges (a
// TypeMessageSent event: the log's record of it is the order itself). A
// response naming its server transaction (TxKey) becomes the transaction's
// last response on this edge, so a retransmitted request is answered here;
// a non-2xx final for an INVITE over UDP is retransmitted (Timer G, RFC 3261
// §17.2.1) until its ACK arrives or 64*T1 passed. Nothing is published: the
// event that asked for it is the record.
func (e *Edge) Transmit(ctx context.Context, s *events.SIP) error {
	d, err := ParseDest(s.Dest)
	if err != nil {
		e.C.Undeliverable.Add(1)
		return fmt.Errorf("%w: sipdest: %v", ErrUndeliverable, err)
	}
	// Only the first line is checked before sending (a request the edge
	// merely passes on needs no more); a response to remember is indexed.
	var m *sipmsg.Msg
	if s.TxKey != "" {
		m = e.msgs.Get().(*sipmsg.Msg)
		defer e.msgs.Put(m)
		if err := m.Parse(s.Raw, framing(d.Transport)); err != nil {
			e.C.Undeliverable.Add(1)
			return fmt.Errorf("%w: not a SIP message: %v", ErrUndeliverable, err)
		}
	} else if !sipStartLine(s.Raw) {
		e.C.Undeliverable.Add(1)
		return fmt.Errorf("%w: not a SIP message: no SIP start line", ErrUndeliverable)
	}
	if e.opt.Tracer != nil && s.TraceParent != "" {
		var end func()
		ctx, _, end = e.opt.Tracer.Start(ctx, SpanSend, s.TraceParent, "sipbus.callkey", s.CallKey, "sipbus.edge", e.opt.ID, "sip.dest", d.String())
		defer end()
	}
	// A response is remembered before it leaves: remembered after, a
	// retransmission of the request that arrived while it was being sent
	// found the transaction unanswered and was absorbed without an answer
	// (TestAnswerThroughTheBus, one run in a few hundred). One that cannot
	// be sent is still the service's answer: a retransmission gets it.
	resp := m != nil && !m.Request
	if resp {
		e.remember(s.TxKey, m, s.Raw, d)
	}
	used, err := e.send.Send(ctx, d, s.Raw)
	if err != nil {
		e.C.Undeliverable.Add(1)
		return fmt.Errorf("%w: to %s: %v", ErrUndeliverable, d, err)
	}
	e.C.Transmitted.Add(1)
	e.work()
	if resp && used != d {
		e.sentOn(s.TxKey, d, used)
	}
	return nil
}

// sentOn records that the final remembered for key toward d left on
// used (the flow a connection-oriented send chose), where a retransmitted
// final goes too.
func (e *Edge) sentOn(key string, d, used Dest) {
	e.cache.with(key, func(ent *txEntry) (*txEntry, bool) {
		if ent != nil && ent.dest == d {
			ent.dest = used
		}
		return ent, false
	})
}

// sipStartLine reports a first line that ends in SIP/2.0 (a request) or
// starts with it (a response).
func sipStartLine(b []byte) bool {
	end := 0
	for end < len(b) && end < 1024 && b[end] != '\r' && b[end] != '\n' {
		end++
	}
	line := string(b[:end])
	return strings.HasPrefix(line, "SIP/2.0 ") || strings.HasSuffix(line, " SIP/2.0")
}

// remember records a response sent for server transaction key. The first
// final wins (RFC 3261 §16.7: one final goes upstream); a provisional after
// it changes nothing.
func (e *Edge) remember(key string, m *sipmsg.Msg, raw []byte, d Dest) {
	cs, err := m.CSeq()
	if err != nil {
		return
	}
	invite := cs.Method == "INVITE"
	status := m.StatusCode
	now := e.opt.Now()
	var startG bool
	e.cache.with(key, func(ent *txEntry) (*txEntry, bool) {
		refile := false
		if ent == nil {
			// The request came through another edge (or before a restart):
			// remember the answer for retransmissions that come here.
			ent = &txEntry{invite: invite, published: now, expires: now.Add(e.opt.Pending)}
			refile = true
		}
		if ent.gate != nil {
			ent.gate.served.Add(1) // admission: the service has answered this new dialog
			ent.gate = nil
		}
		if ent.status >= 200 {
			return ent, refile
		}
		ent.status, ent.last, ent.dest = status, raw, d
		if status < 200 {
			return ent, refile
		}
		// Timer H: an INVITE's non-2xx final lives 64*T1, retransmitted
		// (Timer G) until its ACK. An answered INVITE (RFC 6026's Timer
		// L) and a non-INVITE completed here live T4, as Kamailio's wait
		// timer keeps both, a non-INVITE renewed by each retransmission
		// it absorbs (retransmission): the rest of Timer L's and J's
		// 64*T1 is kept by the record that answered (tm's transaction in
		// Redis, the registrar's recent replies), which absorbs the rare
		// retransmission that comes later.
		life := e.opt.T4
		switch {
		case invite && status < 300:
			ent.last = nil // the UAS core retransmits its 2xx, not the transaction
		case invite:
			life, startG = 64*e.opt.T1, d.Transport == UDP
		}
		ent.expires = now.Add(life)
		return ent, true
	})
	if startG {
		e.armTimerG(key, e.opt.T1, now.Add(64*e.opt.T1))
	}
}

// armTimerG retransmits the stored non-2xx final of key after `after`,
// doubling up to T2 (8*T1), until the ACK or the deadline (Timer H).
func (e *Edge) armTimerG(key string, after time.Duration, deadline time.Time) {
	var t *time.Timer
	t = time.AfterFunc(time.Hour, func() {
		var raw []byte
		var d Dest
		e.cache.with(key, func(ent *txEntry) (*txEntry, bool) {
			if ent == nil || ent.acked || ent.timerG != t || len(ent.last) == 0 {
				return ent, false
			}
			if e.opt.Now().After(deadline) {
				ent.timerG = nil
				return ent, false
			}
			raw, d = ent.last, ent.dest
			next := min(2*after, 8*e.opt.T1)
			after = next
			t.Reset(next)
			return ent, false
		})
		if raw != nil {
			e.C.TimerG.Add(1)
			e.transmit(context.Background(), d, raw)
		}
	})
	t.Stop()
	e.cache.with(key, func(ent *txEntry) (*txEntry, bool) {
		if ent == nil || ent.acked {
			return ent, false
		}
		if ent.timerG != nil {
			ent.timerG.Stop()
		}
		ent.timerG = t
		t.Reset(after) // armed once registered, so the first firing finds itself
		return ent, false
	})
}
