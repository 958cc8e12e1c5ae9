package adapters

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/ctd/internal/app"
	"github.com/sipbus/sipbus/services/ctd/internal/ports"
)

// TM is ports.UAC on tm's uac command.
type TM struct {
	Client *tmapi.Client
}

var _ ports.UAC = (*TM)(nil)

// UAC implements ports.UAC.
func (t *TM) UAC(ctx context.Context, req *tmapi.UAC, onProv func(*tmapi.Response)) (*tmapi.Response, error) {
	return t.Client.UAC(ctx, req, onProv)
}

// Cancel implements ports.UAC: tmapi's cancel message, which the tm
// replica running the uac acts on.
func (t *TM) Cancel(_ context.Context, id string) error {
	b, _ := json.Marshal(tmapi.Cancel{ID: id})
	return t.Client.NC.Publish(tmapi.SubjectUACCancel, b)
}

// Bus is ports.Emitter on the JetStream stream.
type Bus struct {
	Pub *bus.Publisher
}

var _ ports.Emitter = (*Bus)(nil)

// Subject is the subject of a progress event: ctd.<phase>.<id>.
func Subject(phase app.Phase, id string) string {
	return bus.SubjectCtd(string(phase), id)
}

// Emit implements ports.Emitter. The event id is <call id>-<n>: a
// replica that repeats an effect publishes the same id, which the stream
// deduplicates (Nats-Msg-Id).
func (b *Bus) Emit(ctx context.Context, s app.State, p app.Progress) error {
	return b.Pub.PublishData(ctx, Subject(p.Phase, s.ID), s.ID+"-"+itoa(p.N), s.ID, "", ports.ProgressEvent(s, p))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// SubscribeProgress delivers the progress events of call id (core NATS: the
// stream's messages are also plain NATS messages) to f.
func SubscribeProgress(nc *nats.Conn, id string, f func(*nats.Msg)) (*nats.Subscription, error) {
	return nc.Subscribe("ctd.*."+bus.SafeToken(id), f)
}
