package uac

import (
	"context"
	"errors"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// AppDialogs gives tm's proxy core the uac dialogs (app.UACDialogs).
type AppDialogs struct {
	Dialogs Dialogs
	Pub     *bus.Publisher
}

var _ app.UACDialogs = (*AppDialogs)(nil)

// Find implements app.UACDialogs.
func (a *AppDialogs) Find(ctx context.Context, callID, localTag, remoteTag string) (string, string, bool, error) {
	if localTag == "" {
		return "", "", false, nil
	}
	id := DialogID(callID, localTag, remoteTag)
	dl, _, err := a.Dialogs.Load(ctx, id)
	if errors.Is(err, ErrNoDialog) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	return dl.ID, dl.Owner, true, nil
}

// Ended implements app.UACDialogs.
func (a *AppDialogs) Ended(ctx context.Context, id string) error { return a.Dialogs.Delete(ctx, id) }

// Deliver implements app.UACDialogs: the request event as the edge
// published it, with tm as source and the server transaction in
// siptxkey, on app.<owner>.dialog.<id>. Its id derives from the
// transaction: a retransmission that reaches tm is dropped by the stream.
func (a *AppDialogs) Deliver(ctx context.Context, owner, id string, in *app.Inbound) error {
	if in.Event == nil {
		return errors.New("tm: dialog request without its event")
	}
	ev := *in.Event
	ev.ID = "dlg." + id + "." + in.TxKey
	ev.Source = a.Pub.Source()
	ev.TxKey = in.TxKey
	msg := ev.Encode(tmapi.DialogSubject(owner, id))
	msg.Header[bus.HeaderMsgID] = []string{ev.ID}
	return a.Pub.PublishMsg(ctx, msg)
}
