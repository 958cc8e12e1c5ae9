package events

import (
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// TypeEdgeBlocked is an edge's flood control starting to block a source
// (edge.blocked.<edge id>, CloudEvent subject = the source). One event per
// block: a source that keeps flooding past its cool-down starts a new one.
const TypeEdgeBlocked = "sipbus.edge.blocked.v1"

// EdgeBlocked is TypeEdgeBlocked. It carries what the edge counted, never
// bytes the source sent.
type EdgeBlocked struct {
	Edge      string    `json:"edge"`      // id of the edge that blocks
	Source    string    `json:"source"`    // the IPv4 address, or the IPv6 /64 prefix ("2001:db8:1:2::/64")
	Transport string    `json:"transport"` // transport of the request that crossed the limit: udp, tcp, ...
	Count     int       `json:"count"`     // requests counted in the sliding window when the block started
	Limit     int       `json:"limit"`     // requests allowed per window
	WindowMs  int64     `json:"window_ms"` // the window, in milliseconds
	At        time.Time `json:"at"`        // when the block started
	Until     time.Time `json:"until"`     // when it ends (the cool-down)
}

func (*EdgeBlocked) CEType() string   { return TypeEdgeBlocked }
func (*EdgeBlocked) CESchema() string { return SchemaURL(TypeEdgeBlocked) }

var _ bus.Typed = (*EdgeBlocked)(nil)
