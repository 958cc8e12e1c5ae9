package ctd_test

import (
	"testing"

	"github.com/sipbus/sipbus/services/ctd"
)

func TestParseDialogRequest(t *testing.T) {
	raw := "NOTIFY sip:ctd@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:c@x>;tag=2\r\n" +
		"Call-ID: c1\r\nCSeq: 2 NOTIFY\r\no: REFER;id=7\r\nSubscription-State: Terminated;reason=noresource\r\nContent-Length: 15\r\n\r\nSIP/2.0 200 OK\n"
	r, err := ctd.ParseDialogRequest("d1", []byte(raw))
	if err != nil || r.Method != "NOTIFY" || r.Event != "refer" || !r.Terminated || string(r.Body) != "SIP/2.0 200 OK\n" || r.Dialog != "d1" {
		t.Fatalf("%+v %v", r, err)
	}
}

// FuzzParseDialogRequest: in-dialog requests come from phones through tm;
// no input panics.
func FuzzParseDialogRequest(f *testing.F) {
	f.Add([]byte("NOTIFY sip:ctd@h SIP/2.0\r\nEvent: refer\r\nSubscription-State: active\r\nContent-Length: 4\r\n\r\nSIP/"))
	f.Add([]byte("BYE sip:ctd@h SIP/2.0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ctd.ParseDialogRequest("d", b)
	})
}
