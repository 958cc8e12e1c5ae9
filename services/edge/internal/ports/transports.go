package ports

import (
	"context"
	"fmt"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Transports sends over whichever of this edge's transports a Dest names.
type Transports struct {
	UDP   *UDP   // nil when disabled
	Flows *Flows // the connections of tcp, tls, ws and wss
}

var (
	_ app.Sender  = (*Transports)(nil)
	_ app.Aliaser = (*Transports)(nil)
)

// Send transmits b to d. Over a connection the flow named comes first; a
// flow that is gone (or none named) is replaced by an open connection to
// the address (one this edge dialled, or one its peer aliased, RFC 5923),
// else by a new one for tcp and tls (WebSocket peers are reached on their
// own connection only). The Dest returned names the flow used and its
// peer. A flow of another transport than d's is never used: a message
// meant for TLS does not leave in clear text.
func (t *Transports) Send(ctx context.Context, d app.Dest, b []byte) (app.Dest, error) {
	if d.Transport == app.UDP {
		if t.UDP == nil {
			return d, fmt.Errorf("edge: udp is disabled on this edge")
		}
		return d, t.UDP.Send(d.Addr, b)
	}
	if !events.Connected(d.Transport) {
		return d, fmt.Errorf("edge: unknown transport %q", d.Transport)
	}
	if t.Flows == nil || !t.Flows.Enabled(d.Transport) {
		return d, fmt.Errorf("edge: %s is disabled on this edge", d.Transport)
	}
	if d.Flow != "" {
		tr := t.Flows.Transport(d.Flow)
		var err error
		switch {
		case tr == "":
			err = fmt.Errorf("%w: %s", ErrNoFlow, d.Flow)
		case tr != d.Transport:
			return d, fmt.Errorf("edge: flow %s is %s, not %s", d.Flow, tr, d.Transport)
		default:
			if err = t.Flows.Send(d.Flow, b); err == nil {
				if ra, ok := t.Flows.Remote(d.Flow); ok {
					d.Addr = ra
				}
				return d, nil
			}
		}
		if !d.Addr.IsValid() {
			return d, err
		}
	}
	if d.Flow = t.Flows.FlowTo(d.Transport, d.Addr); d.Flow == "" {
		var err error
		if d.Flow, err = t.Flows.Dial(ctx, d.Transport, d.Addr, d.Name); err != nil {
			return d, err
		}
	}
	return d, t.Flows.Send(d.Flow, b)
}

// Alias implements app.Aliaser (RFC 5923 connection reuse).
func (t *Transports) Alias(flow string, port uint16) {
	if t.Flows != nil {
		t.Flows.Alias(flow, port)
	}
}
