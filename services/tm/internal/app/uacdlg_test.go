package app

import (
	"context"
	"fmt"
	"testing"
)

// uacDialogs is a stand-in dialog table: "callID|ours|theirs" -> owner.
type uacDialogs struct {
	known     map[string]string
	delivered []string
	ended     []string
}

func (u *uacDialogs) Find(_ context.Context, callID, local, remote string) (string, string, bool, error) {
	owner, ok := u.known[callID+"|"+local+"|"+remote]
	return "dlg-" + callID, owner, ok, nil
}

func (u *uacDialogs) Deliver(_ context.Context, owner, id string, in *Inbound) error {
	u.delivered = append(u.delivered, owner+" "+id+" "+in.Msg.Str(in.Msg.Method))
	return nil
}

func (u *uacDialogs) Ended(_ context.Context, id string) error {
	u.ended = append(u.ended, id)
	return nil
}

// TestUACDialogRequests: a request inside a dialog a uac created (tm's
// Contact, no Route) is answered by tm and delivered to the owner; a BYE
// ends the dialog; a re-INVITE gets 488; a request to tm's uac Contact in
// a dialog that ended gets 481 (RFC 3261 §12.2.2: tm is the UAS of those
// dialogs); any other in-dialog request without Route still gets 404 "Not
// Here".
func TestUACDialogRequests(t *testing.T) {
	for _, tc := range []struct {
		method, callID, user string
		status               int
		delivered            bool
		ended                bool
	}{
		{"NOTIFY", "d1", "sipbus", 200, true, false},
		{"INFO", "d1", "sipbus", 200, true, false},
		{"BYE", "d1", "sipbus", 200, true, true},
		{"INVITE", "d1", "sipbus", 488, true, false},
		{"NOTIFY", "ended", "sipbus", 481, false, false},
		{"NOTIFY", "other", "alice", 404, false, false},
		{"NOTIFY", "noowner", "sipbus", 200, false, false},
	} {
		t.Run(tc.method+" "+tc.callID, func(t *testing.T) {
			h := newHarness(t, "", nil)
			d := &uacDialogs{known: map[string]string{"d1|ours|theirs": "ctd", "noowner|ours|theirs": ""}}
			h.e.d.Dialogs = d
			h.request(fmt.Sprintf(`%s sip:%s@%s SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-dlg-%s
From: <sip:alice@example.com>;tag=theirs
To: <sip:ctd@example.com>;tag=ours
Call-ID: %s
CSeq: 7 %s
Max-Forwards: 70
Contact: <sip:alice@198.51.100.7:5060>
Content-Length: 0

`, tc.method, tc.user, proxyAddr, tc.method, tc.callID, tc.method))
			reply := only(t, h.take(), "the answer")
			if reply.StatusCode != tc.status {
				t.Errorf("answered %d %s, want %d", reply.StatusCode, reply.Str(reply.Reason), tc.status)
			}
			if got := len(d.delivered) == 1; got != tc.delivered {
				t.Errorf("delivered %v, want %v", d.delivered, tc.delivered)
			}
			if got := len(d.ended) == 1; got != tc.ended {
				t.Errorf("ended %v, want %v", d.ended, tc.ended)
			}
			if to, _ := reply.To(); to.Tag() != "ours" && tc.status < 400 {
				t.Errorf("To tag %q, want the dialog's", to.Tag())
			}
		})
	}
}
