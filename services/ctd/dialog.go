package ctd

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/ctd/internal/app"
)

// DialogRequest is an in-dialog request tm received for one of ctd's
// dialogs (tm answered it already: 200).
type DialogRequest struct {
	Dialog     string
	Method     string
	Event      string // Event header, lower case, parameters dropped
	Terminated bool   // Subscription-State: terminated
	Body       []byte
}

// ParseDialogRequest reads the SIP request of a tm dialog event.
func ParseDialogRequest(dialog string, raw []byte) (DialogRequest, error) {
	m, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		return DialogRequest{}, err
	}
	r := DialogRequest{Dialog: dialog}
	if !m.Request {
		return r, nil
	}
	r.Method = strings.ToUpper(m.Str(m.Method))
	for _, h := range m.Headers {
		name := strings.ToLower(m.Str(h.Name))
		val := strings.TrimSpace(m.Str(h.Value))
		switch name {
		case "event", "o":
			ev, _, _ := strings.Cut(val, ";")
			r.Event = strings.ToLower(strings.TrimSpace(ev))
		case "subscription-state":
			st, _, _ := strings.Cut(val, ";")
			r.Terminated = strings.EqualFold(strings.TrimSpace(st), "terminated")
		}
	}
	if m.Body.Len > 0 {
		r.Body = m.Bytes(m.Body)
	}
	return r, nil
}

func (s *Service) onDialogRequest(msg *nats.Msg) {
	if s.dead.Load() {
		return
	}
	toks := strings.Split(msg.Subject, ".")
	dialog := toks[len(toks)-1]
	ev, err := events.DecodeSIP(msg)
	if err != nil {
		s.log.Warn("ctd: bad dialog event", "subject", app.Clean(msg.Subject, 200), "err", err)
		return
	}
	r, err := ParseDialogRequest(dialog, ev.Raw)
	if err != nil {
		s.log.Warn("ctd: bad in-dialog request", "dialog", app.Clean(dialog, 80), "err", app.Clean(err.Error(), 200))
		return
	}
	ctx, cancel := context.WithTimeout(s.base, 10*time.Second)
	defer cancel()
	id, err := s.store.ByDialog(ctx, dialog)
	if err != nil {
		s.log.Info("ctd: in-dialog request for no call", "dialog", app.Clean(dialog, 80), "method", r.Method)
		return
	}
	in, ok := s.dialogInput(ctx, id, r)
	if !ok {
		return
	}
	if _, err := s.apply(ctx, id, in); err != nil {
		s.log.Warn("ctd: apply", "call", id, "input", in.Kind, "err", err)
	}
}

// dialogInput maps a request to an input: NOTIFY of the refer event
// package (RFC 3515 §2.4.4) with its sipfrag, or BYE on a leg.
func (s *Service) dialogInput(ctx context.Context, id string, r DialogRequest) (app.Input, bool) {
	switch r.Method {
	case "NOTIFY":
		if r.Event != "" && r.Event != "refer" {
			return app.Input{}, false
		}
		f, err := app.ParseSipfrag(r.Body)
		if err != nil {
			s.log.Info("ctd: NOTIFY without a sipfrag status line", "call", id, "err", err)
			if !r.Terminated {
				return app.Input{}, false
			}
			f = app.Sipfrag{Status: 100}
		}
		return app.Input{Kind: app.InNotify, Frag: f, Terminated: r.Terminated}, true
	case "BYE":
		st, err := s.store.Load(ctx, id)
		if err != nil {
			return app.Input{}, false
		}
		for i, l := range st.Legs {
			if l.Dialog == r.Dialog {
				return app.Input{Kind: app.InBye, Leg: i}, true
			}
		}
	}
	return app.Input{}, false
}

// RingKey indexes a click-to-dial by its caller and callee AORs.
func RingKey(callerAOR, calleeAOR string) string { return "ring:" + callerAOR + ">" + calleeAOR }

// onCallRinging: many phones (baresip among them) send a NOTIFY only for
// the final answer of the transferred call (RFC 3515 §2.4.5 allows it).
// tm's call.ringing event of the caller's call to the callee tells the
// ringing instead: a call from the caller's AOR to the callee's while the
// click-to-dial waits for it is taken as NOTIFY 180 (the latest
// click-to-dial between the two AORs, when there are several). Almost no
// call is one of ctd's: the store is asked only about RingKeys the
// replica knows (rings.go), so the others cost no round trip.
func (s *Service) onCallRinging(msg *nats.Msg) {
	if s.dead.Load() {
		return
	}
	s.ringGap()
	now := time.Now()
	if !s.rings.anyMayBeOurs(now) {
		return // no click-to-dial rings: not worth decoding
	}
	ev, err := bus.Decode(msg)
	if err != nil || ev.Type != events.TypeCallRinging {
		return
	}
	var r events.CallRinging
	if err := json.Unmarshal(ev.Data, &r); err != nil {
		return
	}
	from, err1 := location.ParseAOR(r.Caller.URI)
	to, err2 := location.ParseAOR(r.Callee.URI)
	if err1 != nil || err2 != nil {
		return
	}
	key := RingKey(from, to)
	if !s.rings.mayBeOurs(key, now) {
		return
	}
	ctx, cancel := context.WithTimeout(s.base, 10*time.Second)
	defer cancel()
	id, err := s.store.ByDialog(ctx, key)
	if err != nil {
		return
	}
	if s.d.Tracer != nil && ev.TraceParent != "" {
		var tp string
		var end func()
		ctx, tp, end = s.d.Tracer.Start(ctx, "ctd.call_ringing", ev.TraceParent, "sipbus.ctd.call", id)
		defer end()
		ctx = bus.WithTraceParent(ctx, tp)
	}
	in := app.Input{Kind: app.InNotify, Frag: app.Sipfrag{Status: r.Status, Reason: "the callee rings (call.ringing)"}}
	if _, err := s.apply(ctx, id, in); err != nil {
		s.log.Warn("ctd: apply", "call", id, "input", "call.ringing", "err", err)
	}
}
