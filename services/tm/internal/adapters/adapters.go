// Package adapters connects tm's decision core to NATS (edge commands,
// call events) and to the location sources.
package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// Events publishes call events on the bus.
type Events struct {
	Pub *bus.Publisher
}

var _ app.Emitter = (*Events)(nil)

// Emit implements app.Emitter.
func (p *Events) Emit(ctx context.Context, em app.Emission) error {
	data, err := json.Marshal(em.Data)
	if err != nil {
		return err
	}
	return p.Pub.Publish(ctx, em.Subject, &bus.Event{
		ID: em.ID, Type: em.Data.CEType(), Subject: em.CallID, CallKey: em.CallKey,
		DataSchema: em.Data.CESchema(), Data: data,
	})
}

// Static is a location source from configuration: AOR ("user@domain") →
// contact URIs. A listed AOR with no contacts exists but is unreachable (480).
type Static map[string][]string

var _ app.Locator = Static(nil)

// Lookup implements app.Locator.
func (s Static) Lookup(_ context.Context, aor string) ([]app.Target, bool, error) {
	cs, ok := s[normAOR(aor)]
	if !ok {
		return nil, false, nil
	}
	ts := make([]app.Target, 0, len(cs))
	for _, c := range cs {
		ts = append(ts, staticTarget(c))
	}
	return ts, true, nil
}

// staticTarget reads a static contact: a URI, or "<URI>;q=0.5" to give it
// a q value (serial forking by q, like registered contacts).
func staticTarget(c string) app.Target {
	t := app.Target{URI: c, Q: 1}
	if !strings.HasPrefix(c, "<") {
		return t
	}
	na, err := sipmsg.ParseNameAddr(c)
	if err != nil {
		return t
	}
	t.URI = na.URI.String()
	if q, ok := na.Params.Get("q"); ok {
		if v, err := strconv.ParseFloat(q, 64); err == nil && v >= 0 && v <= 1 {
			t.Q = v
		}
	}
	return t
}

func normAOR(aor string) string {
	aor = strings.TrimPrefix(strings.TrimPrefix(aor, "sip:"), "sips:")
	user, host, ok := strings.Cut(aor, "@")
	if !ok {
		return strings.ToLower(aor)
	}
	return user + "@" + strings.ToLower(host)
}

// Chain asks each locator in turn; the first that knows the AOR answers.
type Chain []app.Locator

// Lookup implements app.Locator.
func (c Chain) Lookup(ctx context.Context, aor string) ([]app.Target, bool, error) {
	var errs []error
	for _, l := range c {
		ts, known, err := l.Lookup(ctx, aor)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if known {
			return ts, true, nil
		}
	}
	return nil, false, errors.Join(errs...)
}

// Apps hands transactions to applications on the bus: the request event
// as the edge published it (type sipbus.sip.request.received.v2, the raw
// message as data, where it came from), with tm as its source and the
// server transaction key in the siptxkey attribute (the application's
// reply or relay command names it), on app.<name>.<p>.
type Apps struct {
	Pub *bus.Publisher
}

var _ app.Apps = (*Apps)(nil)

// HandOver implements app.Apps. The event id derives from the transaction,
// so a hand-over made twice is dropped by the stream as a duplicate.
func (a *Apps) HandOver(ctx context.Context, name string, in *app.Inbound) error {
	if in.Event == nil {
		return errors.New("tm: hand-over without the request event")
	}
	ev := *in.Event
	ev.ID = "app." + name + "." + in.CallKey + "." + in.TxKey
	ev.Source = a.Pub.Source() // tm hands it over; the edge it came from is in sipedge
	ev.TxKey = in.TxKey
	msg := ev.Encode(bus.SubjectApp(name, in.CallKey))
	msg.Header[bus.HeaderMsgID] = []string{ev.ID}
	return a.Pub.PublishMsg(ctx, msg)
}
