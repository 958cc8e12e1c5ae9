package app

import (
	"context"

	"github.com/sipbus/sipbus/pkg/bus"
)

// Sender transmits bytes to a destination over one of the edge's transports
// and returns the destination as used: for TCP with the flow it went on and
// that flow's peer address.
type Sender interface {
	Send(ctx context.Context, d Dest, b []byte) (Dest, error)
}

// Publisher hands events to the bus; *bus.Publisher implements it. id is the
// event id (also the JetStream dedupe id); "" asks for a fresh one.
type Publisher interface {
	PublishData(ctx context.Context, subject, id, ceSubject, callKey string, data bus.Typed) error
}
