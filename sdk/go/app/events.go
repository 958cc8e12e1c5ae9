package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// CallEvent is one call.* event; exactly one of the typed fields is set,
// the one of Type.
type CallEvent struct {
	ID, Type string
	Started  *events.CallStarted
	Ringing  *events.CallRinging
	Answered *events.CallAnswered
	Ended    *events.CallEnded
	Missed   *events.CallMissed
}

// RegEvent is one reg.contact.* event: Kind is added, refreshed, removed
// or expired.
type RegEvent struct {
	ID, Type, Kind string
	Contact        events.RegContact
}

// subscribeEvents starts the OnCall and OnReg consumers.
func (a *App) subscribeEvents(ctx context.Context) error {
	if a.opt.OnCall != nil {
		s, err := bus.Subscribe(ctx, a.js, "app-"+a.opt.Name+"-call", func(ctx context.Context, ev *bus.Event) error {
			ce, err := decodeCall(ev)
			if err != nil {
				return bus.Permanent(err)
			}
			return a.opt.OnCall(context.WithValue(ctx, appKey{}, a), ce)
		}, bus.SubscribeOptions{Stream: a.opt.Stream, Filters: []string{"call.>"}, DeliverNew: true, Logger: a.opt.Log})
		if err != nil {
			return fmt.Errorf("app: call events: %w", err)
		}
		a.subs = append(a.subs, s)
	}
	if a.opt.OnReg != nil {
		s, err := bus.Subscribe(ctx, a.js, "app-"+a.opt.Name+"-reg", func(ctx context.Context, ev *bus.Event) error {
			var c events.RegContact
			if err := bus.DecodeJSON(ev.Data, &c); err != nil {
				return bus.Permanent(err)
			}
			kind := strings.TrimSuffix(strings.TrimPrefix(ev.Type, "sipbus.reg.contact."), ".v1")
			return a.opt.OnReg(context.WithValue(ctx, appKey{}, a), &RegEvent{ID: ev.ID, Type: ev.Type, Kind: kind, Contact: c})
		}, bus.SubscribeOptions{Stream: a.opt.Stream, Filters: []string{"reg.contact.>"}, DeliverNew: true, Logger: a.opt.Log})
		if err != nil {
			return fmt.Errorf("app: registration events: %w", err)
		}
		a.subs = append(a.subs, s)
	}
	return nil
}

func decodeCall(ev *bus.Event) (*CallEvent, error) {
	ce := &CallEvent{ID: ev.ID, Type: ev.Type}
	var v any
	switch ev.Type {
	case events.TypeCallStarted:
		ce.Started = new(events.CallStarted)
		v = ce.Started
	case events.TypeCallRinging:
		ce.Ringing = new(events.CallRinging)
		v = ce.Ringing
	case events.TypeCallAnswered:
		ce.Answered = new(events.CallAnswered)
		v = ce.Answered
	case events.TypeCallEnded:
		ce.Ended = new(events.CallEnded)
		v = ce.Ended
	case events.TypeCallMissed:
		ce.Missed = new(events.CallMissed)
		v = ce.Missed
	default:
		return nil, fmt.Errorf("app: unknown call event type %q", ev.Type)
	}
	if err := bus.DecodeJSON(ev.Data, v); err != nil {
		return nil, fmt.Errorf("app: %s: %w", ev.Type, err)
	}
	return ce, nil
}
