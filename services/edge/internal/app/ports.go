package app

import (
	"context"

	"github.com/nats-io/nats.go"
)

// Sender transmits bytes to a destination over one of the edge's transports
// and returns the destination as used: over a connection with the flow it
// went on and that flow's peer address.
type Sender interface {
	Send(ctx context.Context, d Dest, b []byte) (Dest, error)
}

// Aliaser is a Sender whose connections can carry requests to their
// peer's listening port too (RFC 5923 connection reuse).
type Aliaser interface {
	Alias(flow string, port uint16)
}

// Publisher hands encoded events to the bus, asynchronously (the stream's
// acknowledgement is collected in the background); *bus.Publisher
// implements it.
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg) error
}
