package app

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// The edges' listeners in these tests (proxyAddr is UDP and TCP).
var testListeners = map[string]string{"tls": "192.0.2.1:5061", "ws": "192.0.2.1:5066", "wss": "192.0.2.1:7443"}

func newListenerHarness(t *testing.T, loc locator) *harness {
	t.Helper()
	h := newHarness(t, "", loc)
	h.e = NewEngine(Config{Advertise: proxyAddr, Listeners: testListeners, FlowKey: []byte("test flow key"),
		Domains: []string{"example.com"}, NoAnswer: 10 * time.Second}, h.e.d)
	return h
}

// sent returns and forgets the messages tm handed to the edges.
func (h *harness) sentMsgs() []*edgeapi.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.sent
	h.sent = nil
	return out
}

// from feeds a request received from src.
func (h *harness) from(src Source, raw string) {
	h.t.Helper()
	m, err := sipmsg.Parse([]byte(strings.ReplaceAll(raw, "\n", "\r\n")), sipmsg.Datagram)
	if err != nil {
		h.t.Fatal(err)
	}
	key, err := sipmsg.ServerTxKey(m)
	if err != nil {
		h.t.Fatal(err)
	}
	if src.Reply == "" {
		src.Reply = edgeapi.ReplyDest(m, src.Transport, src.Remote, src.Flow)
	}
	if err := h.e.Request(h.ctx(), &Inbound{Msg: m, TxKey: key, CallKey: sipmsg.CallKey(m.CallID()), Src: src}); err != nil {
		h.t.Fatalf("Request: %v", err)
	}
}

func oneSent(t *testing.T, h *harness, what string) (*edgeapi.Message, *sipmsg.Msg) {
	t.Helper()
	ms := h.sentMsgs()
	if len(ms) != 1 {
		t.Fatalf("%s: %d messages sent, want 1", what, len(ms))
	}
	m, err := sipmsg.Parse(ms[0].Raw, sipmsg.Datagram)
	if err != nil {
		t.Fatal(err)
	}
	return ms[0], m
}

var (
	udpPhone = Source{Transport: "udp", Remote: "198.51.100.7:5060", Edge: "e1"}
	wsPhone  = Source{Transport: "ws", Remote: "203.0.113.50:61000", Flow: "e1~3", Edge: "e1"}
	tcpPhone = Source{Transport: "tcp", Remote: "198.51.100.8:40000", Flow: "e1~4", Edge: "e1"}
)

// inDialog is a request of the dialog with the route set and Request-URI
// given (the Route rows as the UA writes them).
func inDialog(method, ruri, via string, n int, routes ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\nVia: %s;branch=z9hG4bK-d%d-%s\n", method, ruri, via, n, method)
	for _, r := range routes {
		b.WriteString("Route: " + r + "\n")
	}
	fmt.Fprintf(&b, "From: <sip:alice@example.com>;tag=a%d\nTo: <sip:bob@example.com>;tag=b%d\nCall-ID: rr-%d@test\nCSeq: 2 %s\nMax-Forwards: 70\nContent-Length: 0\n\n", n, n, n, method)
	return b.String()
}

// routeRows is every Record-Route value, rows split at their commas.
func routeRows(m *sipmsg.Msg) []string {
	var out []string
	for _, row := range m.Values(sipmsg.HRecordRoute) {
		for _, v := range strings.Split(row, ", <") {
			if !strings.HasPrefix(v, "<") {
				v = "<" + v
			}
			out = append(out, v)
		}
	}
	return out
}

// TestDoubleRecordRoute: a dialog-creating request that crosses
// transports or connections gets two Record-Route values (RFC 5658), the
// side facing the next hop first, each with the flow token of its
// connection; Via names the listener it leaves on.
func TestDoubleRecordRoute(t *testing.T) {
	wsBob := locator{"bob@example.com": {{URI: "sip:k3p9@x7d2.invalid;transport=ws", Q: 1, Received: "ws:e1~5"}}}
	tlsBob := locator{"bob@example.com": {{URI: "sips:bob@203.0.113.5:5061", Q: 1}}}
	for _, tc := range []struct {
		name string
		loc  locator
		src  Source
		dest string
		via  string
		rr   []string // %s: the flow token of the flow named in the test
	}{
		{"udp to udp: one value", bob, udpPhone, "udp:203.0.113.5:5060", "SIP/2.0/UDP 192.0.2.1:5060",
			[]string{"<sip:192.0.2.1:5060;lr>"}},
		{"udp to ws", wsBob, udpPhone, "ws:/e1~5", "SIP/2.0/WS 192.0.2.1:5066",
			[]string{"<sip:e1~5.%s@192.0.2.1:5066;transport=ws;lr>", "<sip:192.0.2.1:5060;lr>"}},
		{"ws to udp", bob, wsPhone, "udp:203.0.113.5:5060", "SIP/2.0/UDP 192.0.2.1:5060",
			[]string{"<sip:192.0.2.1:5060;lr>", "<sip:e1~3.%s@192.0.2.1:5066;transport=ws;lr>"}},
		{"tcp to tls", tlsBob, tcpPhone, "tls:203.0.113.5:5061", "SIP/2.0/TLS 192.0.2.1:5061",
			[]string{"<sip:192.0.2.1:5061;transport=tls;lr>", "<sip:e1~4.%s@192.0.2.1:5060;transport=tcp;lr>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newListenerHarness(t, tc.loc)
			h.from(tc.src, invite(40, "sip:bob@example.com"))
			var out *edgeapi.Message
			var inv *sipmsg.Msg
			for _, s := range h.sentMsgs() {
				if m, _ := sipmsg.Parse(s.Raw, sipmsg.Datagram); m != nil && m.Request {
					out, inv = s, m
				}
			}
			if inv == nil {
				t.Fatal("no INVITE relayed")
			}
			if out.Dest != tc.dest {
				t.Errorf("dest %q, want %q", out.Dest, tc.dest)
			}
			if v := inv.Values(sipmsg.HVia)[0]; !strings.HasPrefix(v, tc.via+";") {
				t.Errorf("Via %q, want %s", v, tc.via)
			}
			got := routeRows(inv)
			if len(got) != len(tc.rr) {
				t.Fatalf("Record-Route %q, want %d values", got, len(tc.rr))
			}
			for i, want := range tc.rr {
				if strings.Contains(want, "%s") {
					flow := strings.TrimPrefix(strings.SplitN(want, ".", 2)[0], "<sip:")
					tr := "ws"
					if strings.Contains(want, "transport=tcp") {
						tr = "tcp"
					}
					want = fmt.Sprintf(want, h.e.flowMAC(tr, flow))
				}
				if got[i] != want {
					t.Errorf("Record-Route %d %q, want %q", i, got[i], want)
				}
			}
		})
	}
}

// TestInDialogOverDoubleRoute: the BYE of either side of a UDP <-> WS
// call finds its way: tm pops both of its Route values, and a flow token
// in the far one sends the request on that connection (the WebSocket
// phone's Contact is a .invalid host nobody can resolve).
func TestInDialogOverDoubleRoute(t *testing.T) {
	h := newListenerHarness(t, nil)
	udpSide := "<sip:192.0.2.1:5060;lr>"
	wsSide := "<sip:e1~5." + h.e.flowMAC("ws", "e1~5") + "@192.0.2.1:5066;transport=ws;lr>"
	const wsContact = "sip:k3p9@x7d2.invalid;transport=ws"

	// The UDP caller hangs up: its route set is the reverse of Record-Route.
	h.from(udpPhone, inDialog("BYE", wsContact, "SIP/2.0/UDP 198.51.100.7:5060", 1, udpSide+", "+wsSide))
	out, bye := oneSent(t, h, "BYE from the UDP side")
	if out.Dest != "ws:/e1~5" || len(bye.Values(sipmsg.HRoute)) != 0 || bye.Str(bye.RequestURI) != wsContact {
		t.Errorf("BYE to %q with Route %q, R-URI %q: want the WebSocket flow, no Route left, the Contact", out.Dest, bye.Values(sipmsg.HRoute), bye.Str(bye.RequestURI))
	}
	if v := bye.Values(sipmsg.HVia)[0]; !strings.HasPrefix(v, "SIP/2.0/WS 192.0.2.1:5066;") {
		t.Errorf("Via %q", v)
	}

	// The ACK of the 2xx goes the same way, statelessly.
	h.from(udpPhone, strings.Replace(inDialog("ACK", wsContact, "SIP/2.0/UDP 198.51.100.7:5060", 2, udpSide, wsSide), "CSeq: 2 ACK", "CSeq: 1 ACK", 1))
	if out, _ := oneSent(t, h, "ACK from the UDP side"); out.Dest != "ws:/e1~5" {
		t.Errorf("ACK to %q, want the WebSocket flow", out.Dest)
	}

	// The WebSocket callee hangs up: its route set is Record-Route in order.
	h.from(Source{Transport: "ws", Remote: "203.0.113.50:61000", Flow: "e1~5", Edge: "e1"},
		inDialog("BYE", "sip:alice@198.51.100.7:5060", "SIP/2.0/WS x7d2.invalid", 3, wsSide, udpSide))
	out, bye = oneSent(t, h, "BYE from the WebSocket side")
	if out.Dest != "udp:198.51.100.7:5060" || len(bye.Values(sipmsg.HRoute)) != 0 {
		t.Errorf("BYE to %q with Route %q: want the caller's contact over UDP, no Route left", out.Dest, bye.Values(sipmsg.HRoute))
	}
}

// TestForgedFlowToken: a Route of ours with a flow token that does not
// verify is popped like any other, but steers nothing into a connection.
func TestForgedFlowToken(t *testing.T) {
	h := newListenerHarness(t, nil)
	for _, forged := range []string{
		"<sip:e1~9.0123456789abcdef@192.0.2.1:5066;transport=ws;lr>",
		"<sip:e1~5." + h.e.flowMAC("ws", "e1~5") + "@192.0.2.1:5061;transport=tls;lr>", // a good MAC for another transport
		"<sip:e1~9@192.0.2.1:5066;transport=ws;lr>",
	} {
		h.from(udpPhone, inDialog("BYE", "sip:k3p9@x7d2.invalid;transport=ws", "SIP/2.0/UDP 198.51.100.7:5060", 9, "<sip:192.0.2.1:5060;lr>", forged))
		for _, s := range h.sentMsgs() {
			if strings.Contains(s.Dest, "/e1~") {
				t.Errorf("Route %s sent a request to %q", forged, s.Dest)
			}
		}
	}
}

// A TLS next hop found through DNS is verified against the URI's domain
// (RFC 5922 §4), which the sipdest carries to the edge; an IP address in
// the URI, or another transport, carries none.
func TestHopsOfTLSName(t *testing.T) {
	addr := netip.MustParseAddrPort("192.0.2.9:5061")
	for _, tc := range []struct {
		q    sipdns.Query
		tr   string
		want string
	}{
		{sipdns.Query{Host: "pbx.example.com", Secure: true}, "tls", "tls:192.0.2.9:5061#pbx.example.com"},
		{sipdns.Query{Host: "192.0.2.9"}, "tls", "tls:192.0.2.9:5061"},
		{sipdns.Query{Host: "pbx.example.com"}, "tcp", "tcp:192.0.2.9:5061"},
	} {
		hs := hopsOf(tc.q, []sipdns.Target{{Transport: tc.tr, Addr: addr, Name: "sip1.example.com"}})
		if got := hs[0].dest(); got != tc.want {
			t.Errorf("hopsOf(%+v, %s) dest %q, want %q", tc.q, tc.tr, got, tc.want)
		}
		if _, err := events.ParseDest(hs[0].dest()); err != nil {
			t.Errorf("dest %q does not parse: %v", hs[0].dest(), err)
		}
	}
}

// TestPopSelfPicksTheFarSide: which of the flow tokens of our double
// Record-Route an in-dialog request follows, for each side of the dialog,
// for UAs that keep the route set right and for one that does not reverse
// it, and for a phone that reconnected.
func TestPopSelfPicksTheFarSide(t *testing.T) {
	h := newListenerHarness(t, nil)
	udp := "<sip:192.0.2.1:5060;lr>"
	tok := func(tr, flow string) string {
		return "<sip:" + flow + "." + h.e.flowMAC(tr, flow) + "@192.0.2.1:5060;transport=" + tr + ";lr>"
	}
	f1, f2 := tok("ws", "e1~1"), tok("tcp", "e1~2")
	for _, tc := range []struct {
		name    string
		routes  []string
		arrived string
		want    string
	}{
		{"caller over UDP to the callee's flow", []string{udp, f2}, "", "tcp:e1~2"},
		{"caller over UDP, route set not reversed", []string{f2, udp}, "", "tcp:e1~2"},
		{"callee on its flow to a UDP caller", []string{f2, udp}, "e1~2", ""},
		{"callee reconnected, to a UDP caller", []string{f2, udp}, "e1~9", ""},
		{"caller on a flow to the callee's flow", []string{f1, f2}, "e1~1", "tcp:e1~2"},
		{"callee on a flow to the caller's flow", []string{f2, f1}, "e1~2", "ws:e1~1"},
		{"caller on a flow, route set not reversed", []string{f2, f1}, "e1~1", "tcp:e1~2"},
		{"WS caller to a UDP callee", []string{f1, udp}, "e1~1", ""},
		{"UDP callee to the WS caller", []string{udp, f1}, "", "ws:e1~1"},
		{"one Route of ours", []string{f2}, "", "tcp:e1~2"},
		{"no Route of ours", []string{"<sip:198.51.100.1;lr>"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sipmsg.Parse([]byte(strings.ReplaceAll(inDialog("BYE", "sip:x@192.0.2.50", "SIP/2.0/UDP 198.51.100.7", 1, strings.Join(tc.routes, ", ")), "\n", "\r\n")), sipmsg.Datagram)
			if err != nil {
				t.Fatal(err)
			}
			rs, _ := m.Routes()
			if _, got := h.e.popSelf(rs, tc.arrived); got != tc.want {
				t.Errorf("popSelf = %q, want %q", got, tc.want)
			}
		})
	}
}
