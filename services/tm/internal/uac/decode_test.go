package uac

import (
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// TestDecodeNamesTheField: every bad command is refused with the field
// at fault named.
func TestDecodeNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name, in, field string
	}{
		{"not JSON", `{`, ""},
		{"unknown field", `{"method":"OPTIONS","request_uri":"sip:a@b","colour":1}`, "colour"},
		{"wrong type", `{"method":"OPTIONS","request_uri":"sip:a@b","cseq":"1"}`, "cseq"},
		{"no method", `{"request_uri":"sip:a@b"}`, "method"},
		{"method token", `{"method":"OPT IONS","request_uri":"sip:a@b"}`, "method"},
		{"CANCEL", `{"method":"CANCEL","request_uri":"sip:a@b"}`, "method"},
		{"ACK out of dialog", `{"method":"ACK","request_uri":"sip:a@b"}`, "method"},
		{"no request uri", `{"method":"OPTIONS"}`, "request_uri"},
		{"tel uri", `{"method":"OPTIONS","request_uri":"tel:+1"}`, "request_uri"},
		{"bad from", `{"method":"OPTIONS","request_uri":"sip:a@b","from":"<sip:a@b"}`, "from"},
		{"from with CRLF", `{"method":"OPTIONS","request_uri":"sip:a@b","from":"sip:a@b\r\nVia: x"}`, "from"},
		{"header injection", `{"method":"OPTIONS","request_uri":"sip:a@b","headers":["X: a\r\nVia: b"]}`, "headers[0]"},
		{"reserved header", `{"method":"OPTIONS","request_uri":"sip:a@b","headers":["X-Ok: 1","CSeq: 9 OPTIONS"]}`, "headers[1]"},
		{"body without type", `{"method":"MESSAGE","request_uri":"sip:a@b","body":"hi"}`, "content_type"},
		{"bad next hop", `{"method":"OPTIONS","request_uri":"sip:a@b","next_hop":"http://x"}`, "next_hop"},
		{"auth without secret", `{"method":"OPTIONS","request_uri":"sip:a@b","auth":{"user":"u"}}`, "auth.password"},
		{"ha1 without realm", `{"method":"OPTIONS","request_uri":"sip:a@b","auth":{"user":"u","ha1":"0123456789abcdef0123456789abcdef"}}`, "auth.realm"},
		{"owner", `{"method":"INVITE","request_uri":"sip:a@b","owner":"a.b"}`, "owner"},
		{"ack mode", `{"method":"INVITE","request_uri":"sip:a@b","ack":"never"}`, "ack"},
		{"dialog id", `{"method":"BYE","dialog_id":"x"}`, "dialog_id"},
		{"uri in dialog", `{"method":"BYE","dialog_id":"0123456789abcdef-0123456789abcdef","request_uri":"sip:a@b"}`, "request_uri"},
		{"timeout", `{"method":"INVITE","request_uri":"sip:a@b","timeout":-1}`, "timeout"},
		{"id", `{"id":"a b","method":"OPTIONS","request_uri":"sip:a@b"}`, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e := Decode([]byte(tc.in))
			if e == nil {
				t.Fatal("accepted")
			}
			if e.Field != tc.field {
				t.Errorf("field %q (%v), want %q", e.Field, e, tc.field)
			}
			if tc.field != "" && !strings.HasPrefix(e.Error(), tc.field+": ") {
				t.Errorf("error %q does not start with the field", e)
			}
		})
	}
	if _, e := Decode([]byte(`{"method":"MESSAGE","request_uri":"sip:bob@example.com","body":"hi","content_type":"text/plain","headers":["Subject: x"]}`)); e != nil {
		t.Errorf("good command refused: %v", e)
	}
}

// TestWire: the request on the wire parses, with the headers tm owns.
func TestWire(t *testing.T) {
	rq := &Req{Method: "MESSAGE", RURI: "sip:bob@example.com", From: "<sip:a@example.com>;tag=1", To: "<sip:bob@example.com>",
		CallID: "c@x", CSeq: 7, Headers: []string{"Subject: hi"}, Body: "hello", CType: "text/plain", Routes: []string{"<sip:p.example.com;lr>"},
		Auth: "Proxy-Authorization: Digest x=1", Agent: "sipbus"}
	m, err := sipmsg.Parse(rq.Wire("udp", "192.0.2.1:5060", BranchPrefix+"abc"), sipmsg.Datagram)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := m.TopVia()
	cs, _ := m.CSeq()
	if v.Branch != BranchPrefix+"abc" || cs.Seq != 7 || cs.Method != "MESSAGE" || m.CallID() != "c@x" || m.Str(m.Body) != "hello" ||
		m.Value(sipmsg.HRoute) != "<sip:p.example.com;lr>" {
		t.Errorf("wire:\n%s", m.Raw)
	}
	c := hopRequest(m, "CANCEL", "")
	cm, err := sipmsg.Parse(c, sipmsg.Datagram)
	if err != nil {
		t.Fatal(err)
	}
	cv, _ := cm.TopVia()
	ccs, _ := cm.CSeq()
	if cv.Branch != v.Branch || ccs.Seq != 7 || ccs.Method != "CANCEL" || cm.Str(cm.RequestURI) != "sip:bob@example.com" {
		t.Errorf("CANCEL (RFC 3261 §9.1):\n%s", c)
	}
}

// FuzzDecode: any command decodes or is refused with a field; an accepted
// one builds a request that parses.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"method":"MESSAGE","request_uri":"sip:bob@example.com","body":"hi","content_type":"text/plain","headers":["Subject: x"],"from":"\"A\" <sip:a@b>;tag=1"}`))
	f.Add([]byte(`{"method":"BYE","dialog_id":"0123456789abcdef-0123456789abcdef"}`))
	f.Add([]byte(`{"method":"INVITE","request_uri":"sips:[::1]:5061;transport=tcp","auth":{"user":"u","password":"p"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, e := Decode(b)
		if e != nil {
			return
		}
		if req.DialogID != "" {
			return
		}
		ruri, err := sipmsg.ParseURI(req.RequestURI)
		if err != nil {
			t.Fatalf("accepted request_uri %q does not parse", req.RequestURI)
		}
		from := req.From
		if from == "" {
			from = "<sip:a@b>"
		}
		fna, err := sipmsg.ParseNameAddr(from)
		if err != nil {
			t.Fatalf("accepted from %q does not parse", req.From)
		}
		rq := &Req{Method: req.Method, RURI: ruri.String(), From: withTag(fna, "t"), To: "<" + ruri.String() + ">", CallID: "c@x", CSeq: 1,
			Headers: req.Headers, Body: req.Body, CType: req.ContentType}
		if _, err := sipmsg.Parse(rq.Wire("udp", "192.0.2.1:5060", BranchPrefix+"x"), sipmsg.Datagram); err != nil {
			t.Fatalf("accepted command builds an unparsable request: %v\n%s", err, rq.Wire("udp", "192.0.2.1:5060", BranchPrefix+"x"))
		}
	})
}
