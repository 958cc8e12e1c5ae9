package ports

import (
	"context"

	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/ctd/internal/app"
)

// UAC sends requests through tm's uac command (adapters.TM on
// tmapi.Client).
type UAC interface {
	// UAC sends req and returns its final; provisionals go to onProvisional.
	UAC(ctx context.Context, req *tmapi.UAC, onProvisional func(*tmapi.Response)) (*tmapi.Response, error)
	// Cancel CANCELs the INVITE of uac id, from any replica.
	Cancel(ctx context.Context, id string) error
}

// Emitter publishes a call's progress (the ctd.<phase>.<id> CloudEvents).
type Emitter interface {
	Emit(ctx context.Context, s app.State, p app.Progress) error
}
