package ports

import (
	"context"
	"fmt"

	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Transports sends over whichever of this edge's transports a Dest names.
type Transports struct {
	UDP *UDP // nil when disabled
	TCP *TCP // nil when disabled
}

var _ app.Sender = (*Transports)(nil)

// Send transmits b to d. A TCP Dest whose flow is gone (or has none) reuses
// an open connection to the address or dials one; the Dest returned names
// the flow used and its peer.
func (t *Transports) Send(ctx context.Context, d app.Dest, b []byte) (app.Dest, error) {
	switch d.Transport {
	case app.UDP:
		if t.UDP == nil {
			return d, fmt.Errorf("edge: udp is disabled on this edge")
		}
		return d, t.UDP.Send(d.Addr, b)
	case app.TCP:
		if t.TCP == nil {
			return d, fmt.Errorf("edge: tcp is disabled on this edge")
		}
		if d.Flow != "" {
			err := t.TCP.Send(d.Flow, b)
			if err == nil {
				if ra, ok := t.TCP.Remote(d.Flow); ok {
					d.Addr = ra
				}
				return d, nil
			}
			if !d.Addr.IsValid() {
				return d, err
			}
		}
		if d.Flow = t.TCP.FlowTo(d.Addr); d.Flow == "" {
			var err error
			if d.Flow, err = t.TCP.Dial(ctx, d.Addr); err != nil {
				return d, err
			}
		}
		return d, t.TCP.Send(d.Flow, b)
	default:
		return d, fmt.Errorf("edge: unknown transport %q", d.Transport)
	}
}
