package sipmsg

import (
	"strings"
	"testing"
)

const editReq = "INVITE sip:bob@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n" +
	"Route: <sip:proxy.example.com;lr>, <sip:next.example.com;lr>\r\n" +
	"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n" +
	"Call-ID: e1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"

func TestEditorProxyForward(t *testing.T) {
	m, err := Parse([]byte(editReq), Datagram)
	if err != nil {
		t.Fatal(err)
	}
	e := m.Edit().SetRequestURI("sip:bob@192.0.2.7:5062").
		Prepend("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKp", "Record-Route: <sip:127.0.0.1:5060;lr>")
	for i, h := range m.Headers {
		switch h.ID {
		case HRoute:
			e.RemoveFirst(i)
		case HMaxForwards:
			e.Replace(i, "69")
		}
	}
	out, err := Parse(e.Bytes(), Datagram)
	if err != nil {
		t.Fatal(err)
	}
	if f := Check(out, CheckOptions{Role: RoleProxy}); f != nil {
		t.Fatalf("edited message fails Check: %v\n%s", f, out.Raw)
	}
	vias, _ := out.Vias()
	routes, _ := out.Routes()
	mf, _ := out.MaxForwards()
	switch {
	case out.Str(out.RequestURI) != "sip:bob@192.0.2.7:5062":
		t.Errorf("R-URI %q", out.Str(out.RequestURI))
	case len(vias) != 3 || vias[0].Branch != "z9hG4bKp" || vias[1].Branch != "z9hG4bKa":
		t.Errorf("vias %+v", vias)
	case len(routes) != 1 || routes[0].URI.Host != "next.example.com":
		t.Errorf("routes %+v", routes)
	case mf != 69:
		t.Errorf("max-forwards %d", mf)
	case string(out.Bytes(out.Body)) != "v=0\n":
		t.Errorf("body %q", out.Bytes(out.Body))
	}
}

func TestResponseServerTxKeyMatchesRequest(t *testing.T) {
	m, _ := Parse([]byte(editReq), Datagram)
	resp, err := Parse(Reply(m, 180, "Ringing", ReplyOptions{ToTag: "x"}), Datagram)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ServerTxKey(m)
	got, err := ResponseServerTxKey(resp)
	if err != nil || got != want {
		t.Fatalf("ResponseServerTxKey = %q, %v; ServerTxKey = %q", got, err, want)
	}
	// A proxy pops its own Via from the response first.
	var vi int
	for i, h := range resp.Headers {
		if h.ID == HVia {
			vi = i
			break
		}
	}
	popped, _ := Parse(resp.Edit().RemoveFirst(vi).Bytes(), Datagram)
	v, _ := popped.TopVia()
	if !strings.HasSuffix(v.Branch, "b") {
		t.Fatalf("after pop, top Via %+v", v)
	}
}

// RemoveValues pops the two Route values of a double Record-Route (RFC
// 5658) whether the UA wrote them in one row or two.
func TestEditorRemoveValues(t *testing.T) {
	const head = "BYE sip:bob@192.0.2.7 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\n"
	const tail = "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name, routes string
		n            int
		want         []string // hosts of the Routes left
	}{
		{"one row, pop two of three", "Route: <sip:a;lr>, <sip:b;transport=ws;lr>, <sip:c;lr>\r\n", 2, []string{"c"}},
		{"two rows, pop two", "Route: <sip:a;lr>\r\nRoute: <sip:b;lr>, <sip:c;lr>\r\n", 2, []string{"c"}},
		{"two rows, pop all", "Route: <sip:a;lr>\r\nRoute: <sip:b;lr>\r\n", 2, nil},
		{"pop one", "Route: <sip:a;lr>, <sip:b;lr>\r\n", 1, []string{"b"}},
		{"more than there are", "Route: <sip:a;lr>\r\n", 2, nil},
		{"none", "Route: <sip:a;lr>\r\n", 0, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(head+tc.routes+tail), Datagram)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Parse(m.Edit().RemoveValues(HRoute, tc.n).Bytes(), Datagram)
			if err != nil {
				t.Fatal(err)
			}
			rs, _ := out.Routes()
			var hosts []string
			for _, r := range rs {
				hosts = append(hosts, r.URI.Host)
			}
			if strings.Join(hosts, ",") != strings.Join(tc.want, ",") {
				t.Errorf("routes left %v, want %v\n%s", hosts, tc.want, out.Raw)
			}
		})
	}
}

func TestFramingOf(t *testing.T) {
	for tr, want := range map[string]Framing{"udp": Datagram, "tcp": Stream, "TLS": Stream, "sctp": Stream,
		"ws": Datagram, "WSS": Datagram, "": Datagram, "tcpx": Datagram} {
		if got := FramingOf(tr); got != want {
			t.Errorf("FramingOf(%q) = %v, want %v", tr, got, want)
		}
	}
}
