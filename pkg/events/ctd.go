package events

import (
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// TypeCtdProgress is one step of a click-to-dial (ctd.<phase>.<id>,
// CloudEvent subject = the click-to-dial's id). The same steps stream as
// Server-Sent Events from GET /v1/calls/{id}/events.
const TypeCtdProgress = "sipbus.ctd.progress.v1"

// Phases of a click-to-dial (CtdProgress.Phase; also the <phase> token of
// the subject).
const (
	CtdTrying         = "trying"
	CtdCallerAnswered = "caller_answered"
	CtdReferred       = "referred"
	CtdCalleeRinging  = "callee_ringing"
	CtdConnected      = "connected"
	CtdFailed         = "failed"
	CtdCancelled      = "cancelled"
	CtdEnded          = "ended"
)

// CtdProgress is TypeCtdProgress.
type CtdProgress struct {
	ID     string    `json:"id"`               // the click-to-dial
	N      int       `json:"n"`                // 1, 2, ... in the order of the call (the SSE id)
	Phase  string    `json:"phase"`            // one of the Ctd* phases
	Mode   string    `json:"mode"`             // "refer" (RFC 3515) or "3pcc" (RFC 3725 fallback)
	From   string    `json:"from"`             // the caller (whose phones ring first)
	To     string    `json:"to"`               // the callee
	Status int       `json:"status,omitempty"` // the SIP status behind the step (200, 202, 180, 486, ...)
	Reason string    `json:"reason,omitempty"` // what happened, in words (failed: why)
	At     time.Time `json:"at"`
}

func (*CtdProgress) CEType() string   { return TypeCtdProgress }
func (*CtdProgress) CESchema() string { return SchemaURL(TypeCtdProgress) }

var _ bus.Typed = (*CtdProgress)(nil)

func init() { ByType[TypeCtdProgress] = func() any { return new(CtdProgress) } }
