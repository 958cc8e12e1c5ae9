package events_test

import (
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// edgeSamples is one filled value of every edge event type, for
// TestRoundTripAndValidate.
func edgeSamples() map[string]bus.Typed {
	return map[string]bus.Typed{
		"edge blocked v4": &events.EdgeBlocked{Edge: "edge-1", Source: "192.0.2.7", Transport: "udp",
			Count: 1001, Limit: 1000, WindowMs: 2000, At: when, Until: when.Add(60e9)},
		"edge blocked v6": &events.EdgeBlocked{Edge: "edge-1", Source: "2001:db8:1:2::/64", Transport: "tcp",
			Count: 1001, Limit: 1000, WindowMs: 2000, At: when, Until: when.Add(60e9)},
	}
}
