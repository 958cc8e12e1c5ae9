package events_test

import (
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// ctdSamples is one filled value of every click-to-dial type, for
// TestRoundTripAndValidate.
func ctdSamples() map[string]bus.Typed {
	return map[string]bus.Typed{
		"ctd ringing": &events.CtdProgress{ID: "c0123456789abcdef", N: 4, Phase: events.CtdCalleeRinging, Mode: "refer",
			From: "sip:alice@example.com", To: "sip:bob@example.com", Status: 180, Reason: "Ringing", At: when},
		"ctd failed": &events.CtdProgress{ID: "c0123456789abcdef", N: 5, Phase: events.CtdFailed, Mode: "3pcc",
			From: "sip:alice@example.com", To: "sip:bob@example.com", Status: 486, Reason: "the callee answered 486 Busy Here", At: when},
	}
}
