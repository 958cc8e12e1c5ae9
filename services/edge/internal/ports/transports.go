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

// Send transmits b to d. A TCP Dest without a live flow reuses an open
// connection to the address or dials one; the flow used is returned.
func (t *Transports) Send(ctx context.Context, d app.Dest, b []byte) (string, error) {
	switch d.Transport {
	case app.UDP:
		if t.UDP == nil {
			return "", fmt.Errorf("edge: udp is disabled on this edge")
		}
		return "", t.UDP.Send(d.Addr, b)
	case app.TCP:
		if t.TCP == nil {
			return "", fmt.Errorf("edge: tcp is disabled on this edge")
		}
		flow := d.Flow
		if flow != "" {
			if err := t.TCP.Send(flow, b); err == nil || !d.Addr.IsValid() {
				return flow, err
			}
		}
		if flow = t.TCP.FlowTo(d.Addr); flow == "" {
			var err error
			if flow, err = t.TCP.Dial(ctx, d.Addr); err != nil {
				return "", err
			}
		}
		return flow, t.TCP.Send(flow, b)
	default:
		return "", fmt.Errorf("edge: unknown transport %q", d.Transport)
	}
}
