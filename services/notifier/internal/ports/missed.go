package ports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// ConsumerMissedCall is the durable consumer (and stable name) of the
// missed-call mail: every notifier replica shares it.
const ConsumerMissedCall = "notifier-missed-call-mail"

// digestGrace is how long after a window ends its digest waits, for the
// calls of its last seconds still on their way.
const digestGrace = 2 * time.Second

// OnCallMissed mails the callee of a missed call, once, whatever the
// redeliveries, forks (one call.missed per call) and replicas:
//
//  1. the callee (Request-URI, else To) must be a subscriber with an
//     e-mail address who has not opted out (app.Decide), else ack;
//  2. the fence mail.<event id> is taken in Redis (SET NX, with a lease)
//     before anything is sent; a fence already completed (sent, folded,
//     failed) acks the event, one held by another notifier naks it;
//  3. past RateLimit mails in the callee's window the call is folded into
//     the window's digest (fence "folded"), else the mail is sent, with
//     the Message-ID derived from the key;
//  4. the fence is completed (sent) and the event acked. A temporary
//     failure releases the fence and naks the event (backoff); a
//     permanent one, or the last delivery, dead-letters it.
func (h *Handlers) OnCallMissed(ctx context.Context, ev *bus.Event, m *events.CallMissed) error {
	aor, ok := app.CalleeAOR(m)
	if !ok {
		h.Counters.Skipped.Add(1)
		return nil
	}
	sub, err := h.Directory.Get(ctx, aor)
	found := err == nil
	if err != nil && !errors.Is(err, subscriber.ErrNotFound) && !errors.Is(err, subscriber.ErrInvalid) {
		return fmt.Errorf("notifier: subscriber %s: %w", aor, err)
	}
	if v := app.Decide(sub, found); !v.Mail {
		h.Counters.Skipped.Add(1)
		h.Log.Debug("notifier: no mail", "event", app.LogText(ev.ID, 256), "callee", app.LogText(aor, 256), "why", v.Why)
		return nil
	}
	key := app.MailKey(ev.ID)
	owner := h.owner()
	c, err := h.State.Acquire(ctx, key, owner, h.Lease)
	if err != nil {
		return err
	}
	if !c.Taken {
		return h.held(c, key)
	}
	if h.RateLimit > 0 {
		folded, err := h.admit(ctx, aor, key, m)
		if err != nil {
			h.release(ctx, key, owner)
			return err
		}
		if folded {
			h.complete(ctx, key, owner, app.FenceFolded, "")
			h.Counters.Folded.Add(1)
			return nil
		}
	}
	nf := &events.NotifyFailed{ID: app.FailureID(key), Kind: events.NotifyMail, Key: key, Attempts: max(ev.Delivery, 1),
		To: sub.Email, AOR: aor, Event: eventOf(ev)}
	mail, err := h.Templates.Missed(ev.ID, m, sub, h.Options)
	if err != nil {
		nf.Permanent, nf.Error = true, err.Error()
		return h.deadLetter(ctx, owner, nf)
	}
	nf.MessageID = mail.MessageID
	err = h.sendMail(ctx, key, owner, mail)
	if err == nil {
		return nil
	}
	se := err.(*app.SendError)
	if se.Temporary && ev.Delivery < h.MaxDeliver {
		h.release(ctx, key, owner)
		h.Counters.Temporary.Add(1)
		h.Log.Warn("notifier: mail not sent, will retry", "key", app.LogText(key, 256), "delivery", ev.Delivery, "code", se.Code, "error", app.LogText(se.Text, 1024))
		return se
	}
	nf.Permanent, nf.Code, nf.Error = !se.Temporary, se.Code, se.Text
	return h.deadLetter(ctx, owner, nf)
}

// admit places the call in the callee's rate-limit window; folded is true
// when the window already had RateLimit mails (the digest is scheduled).
func (h *Handlers) admit(ctx context.Context, aor, key string, m *events.CallMissed) (bool, error) {
	f := app.FoldedOf(m)
	at := f.EndedAt
	if at.IsZero() {
		at = h.Now()
	}
	w, _, end := app.Window(at, h.RateWindow)
	sum, err := json.Marshal(f)
	if err != nil {
		return false, err
	}
	rank, err := h.State.Admit(ctx, aor, w, key, sum, 2*h.RateWindow+h.backoffTotal()+time.Hour)
	if err != nil || rank < h.RateLimit {
		return false, err
	}
	return true, h.State.ScheduleDigest(ctx, aor, w, end.Add(digestGrace))
}

// eventOf keeps an event in its dead letter.
func eventOf(ev *bus.Event) *events.NotifyEvent {
	data := ev.Data
	if !json.Valid(data) {
		data, _ = json.Marshal(string(data))
	}
	return &events.NotifyEvent{ID: ev.ID, Type: ev.Type, Source: ev.Source, Subject: ev.Subject, Time: ev.Time,
		Data: append(json.RawMessage(nil), data...)}
}
