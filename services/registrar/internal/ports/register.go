// Package ports runs the registrar's inputs: the durable consumer of
// REGISTER events (with digest authentication), the loop that expires
// bindings, and the management command endpoints (nats.go/micro).
package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/registrar/internal/app"
)

// Sender transmits a reply through an edge (*edgeapi.Client).
type Sender interface {
	Send(ctx context.Context, req *edgeapi.SendRequest) (*edgeapi.SendReply, error)
}

var _ Sender = (*edgeapi.Client)(nil)

// Emitter publishes binding changes as reg.contact.* events
// (*adapters.Events).
type Emitter interface {
	Emit(ctx context.Context, changes []location.Change, at time.Time) error
}

// MaxEventAge is how old a REGISTER event may be when the registrar gets
// to it: 64*T1 (Timer F, RFC 3261 §17.1.2.2), after which the UA's client
// transaction has timed out and the UA treats the registration as failed.
// An older event (a backlog after an outage) is dropped, so the location
// service does not hold bindings the UA believes it never made.
const MaxEventAge = 64 * 500 * time.Millisecond

// Register handles REGISTER requests (RFC 3261 §10.3): authentication,
// app.Decide, the location update, the reply through the edge and the
// binding events.
type Register struct {
	Location location.Store
	Auth     *Auth // nil: authentication off
	Send     Sender
	Emit     Emitter
	Options  app.Options
	Now      func() time.Time
	// RequestedBy is the sender recorded in the edge's message.sent event
	// ("sipbus/registrar/<id>").
	RequestedBy string
	Log         *slog.Logger
}

// Handle is the bus handler of one RequestReceived event. It returns an
// error (the event is redelivered) only when the reply could not be handed
// to an edge; a REGISTER handled twice gives the same answer and events
// with the same ids (see the package doc of registrar).
func (h *Register) Handle(ctx context.Context, ev *bus.Event, rr *events.RequestReceived) error {
	sm := &rr.SIPMessage
	m, err := sm.Msg()
	if err != nil {
		return bus.Permanent(fmt.Errorf("registrar: event %s: %w", ev.ID, err))
	}
	if !m.Request || m.MethodID != sipmsg.REGISTER {
		return nil // not ours: the consumer's filter only lets REGISTER through
	}
	now := h.Now()
	if !sm.ReceivedAt.IsZero() && now.Sub(sm.ReceivedAt) > MaxEventAge {
		h.Log.Warn("registrar: dropping a REGISTER older than Timer F", "call_id", truncate(sm.CallID, 128),
			"received_at", sm.ReceivedAt, "age", now.Sub(sm.ReceivedAt))
		return nil
	}
	raw := h.answer(ctx, ev, sm, m, now)
	return h.send(ctx, ev, sm, m, raw)
}

// answer builds the reply to m, applying it to the location service.
func (h *Register) answer(ctx context.Context, ev *bus.Event, sm *events.SIPMessage, m *sipmsg.Msg, now time.Time) []byte {
	ropt := replyOptions(sm, m)
	d := app.Decide(m, source(sm.Network), now, h.Options)
	if h.Auth != nil && !beforeAuth(d) {
		if v := h.Auth.Check(ctx, m, d.AOR, ev.Delivery > 1); v.Status != 0 {
			ropt.Headers = v.Headers
			return sipmsg.Reply(m, v.Status, v.Reason, ropt)
		}
	}
	if d.Update != nil {
		bs, changes, err := h.Location.Apply(ctx, *d.Update)
		if err == nil {
			if err := h.Emit.Emit(ctx, changes, now); err != nil {
				h.Log.Warn("registrar: publish binding events", "aor", d.AOR, "err", err)
			}
			return app.OK(m, bs, now, ropt)
		}
		if !errors.Is(err, location.ErrOutOfOrder) {
			h.Log.Warn("registrar: apply REGISTER", "aor", d.AOR, "err", err)
		}
		d = app.FromStoreError(d.AOR, err)
	}
	if d.Fetch {
		bs, err := h.Location.Lookup(ctx, d.AOR, now)
		if err == nil {
			return app.OK(m, bs, now, ropt)
		}
		h.Log.Warn("registrar: look up bindings", "aor", d.AOR, "err", err)
		if d = app.FromStoreError(d.AOR, err); d.Fetch {
			d = app.Decision{Reply: 500, Reason: app.ReasonInternal, AOR: d.AOR}
		}
	}
	return app.Reject(m, d, ropt)
}

// beforeAuth reports the decisions answered without authentication: those
// that leave no realm to challenge for (a To without a usable AOR, a
// domain that is not ours, a message that is no REGISTER). Everything else
// (a bad Contact, 423, too many contacts) is told only to an authenticated
// user, as RFC 3261 §10.3 orders the steps.
func beforeAuth(d app.Decision) bool {
	if d.Update != nil || d.Fetch {
		return false
	}
	return d.AOR == "" || d.Reason == app.ReasonNotServed
}

// send hands the reply to an edge: the one holding the TCP flow, or any
// for UDP. The edge stores it as the transaction's final response, so
// retransmitted REGISTERs are answered by the edge itself. An edge that
// answers with an error is logged (retrying would not change its mind,
// except 503); no edge at all, or 503, is returned so the event is
// redelivered.
func (h *Register) send(ctx context.Context, ev *bus.Event, sm *events.SIPMessage, m *sipmsg.Msg, raw []byte) error {
	ck := ev.CallKey
	if ck == "" {
		ck = sipmsg.CallKey(m.CallID())
	}
	req := &edgeapi.SendRequest{
		Transport: sm.Network.Transport, Dest: replyDest(sm, m), Flow: sm.Network.Flow, Raw: raw,
		TxKey: sm.TxKey, CallKey: ck, RequestedBy: h.RequestedBy,
	}
	_, err := h.Send.Send(ctx, req)
	var refused *edgeapi.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &refused) && refused.Status != 503:
		h.Log.Warn("registrar: the edge refused the reply", "call_id", truncate(sm.CallID, 128), "err", err)
		return nil
	}
	return fmt.Errorf("registrar: send reply to %s: %w", req.Dest, err)
}
