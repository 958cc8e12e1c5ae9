package app

import (
	"context"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// UACContactUser is the user part of the Contact tm puts in the requests
// of its uac command (sip:sipbus@<advertise>).
const UACContactUser = "sipbus"

// UACDialogs are the dialogs tm's uac command created (package uac): tm
// is their user agent, so the requests the far end sends in them (a
// NOTIFY after a REFER, a BYE) arrive with tm's Contact as Request-URI and
// no Route, and are answered here instead of 404 "Not Here".
type UACDialogs interface {
	// Find looks the dialog up by Call-ID and tags (ours is the request's
	// To tag); ok is false when there is none.
	Find(ctx context.Context, callID, localTag, remoteTag string) (id, owner string, ok bool, err error)
	// Deliver tells the dialog's owner of the request (after tm answered).
	Deliver(ctx context.Context, owner, id string, in *Inbound) error
	// Ended removes a dialog the far end ended (BYE).
	Ended(ctx context.Context, id string) error
}

// uacDialog answers a request in a uac dialog: 200 (a BYE ends the dialog;
// a re-INVITE gets 488, tm holds no media), then the owner is told. handled
// is false when the request is in none of them.
func (e *Engine) uacDialog(ctx context.Context, in *Inbound) (handled bool, err error) {
	if e.d.Dialogs == nil {
		return false, nil
	}
	m := in.Msg
	to, err1 := m.To()
	from, err2 := m.From()
	if err1 != nil || err2 != nil {
		return false, nil
	}
	id, owner, ok, err := e.d.Dialogs.Find(ctx, m.CallID(), to.Tag(), from.Tag())
	if err != nil {
		return true, e.reply(ctx, in, 500, "Server Internal Error: dialog store", nil)
	}
	if !ok {
		// Addressed to tm's own uac Contact, in a dialog that ended (a
		// NOTIFY after our BYE): the UA answers 481 (RFC 3261 §12.2.2).
		if ru, err := m.RequestURIParsed(); err == nil && ru.User == UACContactUser && e.isSelfURI(ru) {
			return true, e.reply(ctx, in, 481, "Call/Transaction Does Not Exist", nil)
		}
		return false, nil
	}
	status, reason := 200, "OK"
	switch m.MethodID {
	case sipmsg.INVITE:
		status, reason = 488, "Not Acceptable Here: no media at this user agent"
	case sipmsg.BYE:
		if err := e.d.Dialogs.Ended(ctx, id); err != nil {
			e.d.Log.Warn("tm: uac dialog", "dialog", id, "err", err)
		}
	}
	if err := e.reply(ctx, in, status, reason, nil); err != nil {
		return true, err
	}
	if owner != "" {
		return true, e.d.Dialogs.Deliver(ctx, owner, id, in)
	}
	return true, nil
}
