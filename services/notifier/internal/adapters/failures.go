package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// Failures is the notifier's dead-letter list: sipbus.notify.failed.v1
// events on notify.failed.<id>, in the event stream, kept as long as the
// stream keeps events.
type Failures struct {
	JS     jetstream.JetStream
	Pub    *bus.Publisher
	Stream string // default bus.DefaultStream
}

// ErrNoFailure: no failure has that id (or the stream no longer keeps it).
var ErrNoFailure = errors.New("notifier: no such failure")

func (f *Failures) stream() string {
	if f.Stream == "" {
		return bus.DefaultStream
	}
	return f.Stream
}

// Publish stores a failure and waits for the stream's acknowledgement:
// the notification is marked failed only once its dead letter is safe.
func (f *Failures) Publish(ctx context.Context, nf *events.NotifyFailed) error {
	id := nf.ID + "." + strconv.FormatInt(nf.FailedAt.UnixMilli(), 36) + "." + strconv.Itoa(nf.Attempts)
	ev, err := bus.NewEvent(id, nf.ID, "", nf)
	if err != nil {
		return err
	}
	ev.Time = nf.FailedAt
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return f.Pub.PublishSync(ctx, bus.SubjectNotify(bus.NotifyEventFailed, nf.ID), ev)
}

// Last returns the latest failure of notification id.
func (f *Failures) Last(ctx context.Context, id string) (*events.NotifyFailed, error) {
	s, err := f.JS.Stream(ctx, f.stream())
	if err != nil {
		return nil, fmt.Errorf("%w: stream: %w", ErrUnavailable, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, bus.SubjectNotify(bus.NotifyEventFailed, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoFailure, id)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: stream: %w", ErrUnavailable, err)
	}
	return decodeFailure(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
}

func decodeFailure(m *nats.Msg) (*events.NotifyFailed, error) {
	ev, err := bus.Decode(m)
	if err != nil {
		return nil, err
	}
	if ev.Type != events.TypeNotifyFailed {
		return nil, fmt.Errorf("notifier: %s holds a %s event", m.Subject, ev.Type)
	}
	var nf events.NotifyFailed
	if err := json.Unmarshal(ev.Data, &nf); err != nil {
		return nil, fmt.Errorf("notifier: failure %s: %w", ev.ID, err)
	}
	return &nf, nil
}

// List returns the latest failure of every notification the stream holds
// failures of, oldest first. It reads notify.failed.* with an ordered
// consumer from the start of the stream.
func (f *Failures) List(ctx context.Context) ([]events.NotifyFailed, error) {
	byID := map[string]int{}
	var out []events.NotifyFailed
	_, err := bus.Read(ctx, f.JS, f.stream(), "notify."+bus.NotifyEventFailed+".*", time.Time{}, func(m *nats.Msg) error {
		nf, err := decodeFailure(m)
		if err != nil {
			return nil // not ours to list
		}
		if i, ok := byID[nf.ID]; ok {
			out[i] = *nf
			return nil
		}
		byID[nf.ID] = len(out)
		out = append(out, *nf)
		return nil
	})
	if err != nil && !errors.Is(err, bus.ErrReadStalled) {
		return nil, fmt.Errorf("%w: stream: %w", ErrUnavailable, err)
	}
	return out, nil
}
