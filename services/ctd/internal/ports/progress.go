package ports

import (
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/services/ctd/internal/app"
)

// ProgressEvent is the ctd CloudEvent's data (and the SSE data) of step p
// of call s.
func ProgressEvent(s app.State, p app.Progress) *events.CtdProgress {
	return &events.CtdProgress{ID: s.ID, N: p.N, Phase: string(p.Phase), Mode: s.Mode, From: s.From, To: s.To,
		Status: p.Status, Reason: app.Clean(p.Reason, 512), At: p.At}
}
