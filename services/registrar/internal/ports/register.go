// Package ports runs the registrar's inputs: the durable consumer of
// REGISTER events (with digest authentication), the loop that expires
// bindings, and the management command endpoints (nats.go/micro).
package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/registrar/internal/app"
)

// Sender hands a reply to the edges (*edgeapi.Sender: one publish).
type Sender interface {
	Send(ctx context.Context, m *edgeapi.Message) error
}

var _ Sender = (*edgeapi.Sender)(nil)

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
	Log      *slog.Logger
	// Expiry is told (Wake) when a REGISTER leaves a binding that expires
	// before the expiry loop would look; nil: it notices within MaxSleep.
	Expiry *Expiry

	// Results counts the REGISTERs answered, by result (Count).
	Results Results

	once    sync.Once
	replies *recent
}

// The results a REGISTER is counted under (sipbus_registrar_registers_total).
const (
	ResultOK             = "ok"             // 2xx: bindings changed or fetched
	ResultChallenged     = "challenged"     // 401/407: credentials asked for
	ResultRejected       = "rejected"       // other 3xx-6xx: refused (403, 404, 423, 400, ...)
	ResultFailed         = "failed"         // 5xx other than shed: the store failed
	ResultShed           = "shed"           // 503 Retry-After under overload, not looked at
	ResultRetransmission = "retransmission" // answered again from the reply cache
)

// ResultNames are the results, in a fixed order.
var ResultNames = []string{ResultOK, ResultChallenged, ResultRejected, ResultFailed, ResultShed, ResultRetransmission}

// Results are counters of answered REGISTERs, one per ResultNames entry.
type Results struct{ n [6]atomic.Uint64 }

// Load is the count of result r (one of ResultNames; 0 for another).
func (c *Results) Load(r string) uint64 {
	if i := slices.Index(ResultNames, r); i >= 0 {
		return c.n[i].Load()
	}
	return 0
}

// count adds one REGISTER answered with raw (a SIP response) to its result.
func (c *Results) count(raw []byte, shed, retransmission bool) {
	r := ResultRejected
	code := 0
	if len(raw) >= 11 {
		code, _ = strconv.Atoi(string(raw[8:11])) // "SIP/2.0 200 ..."
	}
	switch {
	case retransmission:
		r = ResultRetransmission
	case shed:
		r = ResultShed
	case code >= 200 && code < 300:
		r = ResultOK
	case code == 401 || code == 407:
		r = ResultChallenged
	case code >= 500 && code < 600:
		r = ResultFailed
	}
	c.n[slices.Index(ResultNames, r)].Add(1)
}

// RetryAfter is the Retry-After, in seconds, of a REGISTER refused under
// overload.
const RetryAfter = 5

// Handle answers one REGISTER (an event the edge published). A REGISTER
// handled twice (its retransmission reached another edge) gives the same
// answer and events with the same ids (see the package doc of registrar).
// shed answers 503 with Retry-After without looking: the replica is
// overloaded. An error means the reply was not handed to the bus.
func (h *Register) Handle(ctx context.Context, s *events.SIP, shed bool) error {
	m, err := sipmsg.Parse(s.Raw, framing(s.Transport))
	if err != nil {
		return fmt.Errorf("registrar: event %s: %w", s.ID, err)
	}
	if !m.Request || m.MethodID != sipmsg.REGISTER {
		return nil // not ours: the subscription only lets REGISTER through
	}
	txKey, err := sipmsg.ServerTxKey(m)
	if err != nil {
		return fmt.Errorf("registrar: event %s: %w", s.ID, err)
	}
	now := h.Now()
	if age := s.Waited(now); age > MaxEventAge {
		h.Log.Warn("registrar: dropping a REGISTER older than Timer F", "call_id", truncate(m.CallID(), 128),
			"received_at", s.Time, "age", age)
		return nil
	}
	h.once.Do(func() { h.replies = newRecent(ReplyMemory, 200_000) })
	if raw := h.replies.get(txKey, now); raw != nil {
		h.Results.count(raw, false, true)
		return h.send(ctx, s, m, txKey, raw) // a retransmission: the same answer
	}
	var raw []byte
	if shed {
		ropt := replyOptions(s, m, txKey)
		ropt.Headers = []string{"Retry-After: " + strconv.Itoa(RetryAfter)}
		raw = sipmsg.Reply(m, 503, "Service Unavailable", ropt)
	} else {
		raw = h.answer(ctx, s, m, txKey, now)
		h.replies.put(txKey, raw, now)
	}
	h.Results.count(raw, shed, false)
	return h.send(ctx, s, m, txKey, raw)
}

func framing(transport string) sipmsg.Framing { return sipmsg.FramingOf(transport) }

// answer builds the reply to m, applying it to the location service.
func (h *Register) answer(ctx context.Context, s *events.SIP, m *sipmsg.Msg, txKey string, now time.Time) []byte {
	ropt := replyOptions(s, m, txKey)
	d := app.Decide(m, source(s), now, h.Options)
	if h.Auth != nil && !beforeAuth(d) {
		if v := h.Auth.Check(ctx, m, remoteAddr(s), d.AOR, false); v.Status != 0 {
			ropt.Headers = v.Headers
			return sipmsg.Reply(m, v.Status, v.Reason, ropt)
		}
	}
	if d.Update != nil {
		bs, changes, err := h.Location.Apply(ctx, *d.Update)
		if err == nil {
			h.Expiry.Wake(earliestExpiry(bs))
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

// send hands the reply to the edge the REGISTER came in on (over a
// connection, the edge holding it): it keeps it as the transaction's final
// response, so a retransmitted REGISTER is answered by the edge itself.
func (h *Register) send(ctx context.Context, s *events.SIP, m *sipmsg.Msg, txKey string, raw []byte) error {
	msg := &edgeapi.Message{
		Raw: raw, Dest: edgeapi.ReplyDest(m, s.Transport, s.Remote, s.Flow), Edge: s.Edge,
		TxKey: txKey, CallKey: s.CallKey, CallID: m.CallID(), TraceParent: s.TraceParent,
	}
	if err := h.Send.Send(ctx, msg); err != nil {
		return fmt.Errorf("registrar: send reply to %s: %w", msg.Dest, err)
	}
	return nil
}
