package ports

import (
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/registrar/internal/app"
)

func msg(t *testing.T, via string) *sipmsg.Msg {
	t.Helper()
	raw := "REGISTER sip:example.com SIP/2.0\r\nVia: " + via + "\r\nTo: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n" +
		"Call-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
	m, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSource(t *testing.T) {
	tests := []struct {
		name string
		n    events.SIP
		want app.Source
	}{
		{"udp", events.SIP{Transport: "udp", Remote: "198.51.100.7:40000", Edge: "e1"}, app.Source{Transport: "udp", Received: "udp:198.51.100.7:40000", Edge: "e1"}},
		{"tcp flow", events.SIP{Transport: "tcp", Remote: "198.51.100.7:50000", Flow: "e1~3", Edge: "e1"}, app.Source{Transport: "tcp", Received: "tcp:e1~3", Edge: "e1"}},
		{"tcp without flow", events.SIP{Transport: "tcp", Remote: "198.51.100.7:50000", Edge: "e1"}, app.Source{Transport: "tcp", Received: "tcp:198.51.100.7:50000", Edge: "e1"}},
		{"nothing known", events.SIP{}, app.Source{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := source(&tc.n); got != tc.want {
				t.Errorf("source = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestReplyVia: the reply's Via says where the request came from (RFC 3261
// §18.2.1, RFC 3581 §4); where it goes is edgeapi.ReplyDest's (tested there).
func TestReplyVia(t *testing.T) {
	tests := []struct {
		name, transport, remote, via string
		dest, received               string
		rport                        int
	}{
		{"rport: source port", "udp", "198.51.100.7:40000", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport", "198.51.100.7:40000", "198.51.100.7", 40000},
		{"no rport: Via port", "udp", "198.51.100.7:40000", "SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK1", "198.51.100.7:5070", "198.51.100.7", 0},
		{"no rport, no port: 5060", "udp", "198.51.100.7:40000", "SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1", "198.51.100.7:5060", "198.51.100.7", 0},
		{"sent-by is the source", "udp", "192.0.2.4:5060", "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK1", "192.0.2.4:5060", "", 0},
		{"tcp: the connection", "tcp", "198.51.100.7:50000", "SIP/2.0/TCP 10.0.0.5:5060;branch=z9hG4bK1", "198.51.100.7:50000", "198.51.100.7", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := msg(t, tc.via)
			opt := replyOptions(&events.SIP{Transport: tc.transport, Remote: tc.remote}, m, "k1")
			if opt.Received != tc.received || opt.RPort != tc.rport || opt.ToTag != tagFor("k1") || opt.ToTag == "" {
				t.Errorf("replyOptions = %+v", opt)
			}
			rep := sipmsg.Reply(m, 200, "OK", opt)
			if !strings.Contains(string(rep), ";tag="+opt.ToTag) {
				t.Errorf("reply without the To tag:\n%s", rep)
			}
		})
	}
	if tagFor("k1") != tagFor("k1") || tagFor("k1") == tagFor("k2") {
		t.Error("tagFor is not a function of the transaction key")
	}
}

func TestBeforeAuth(t *testing.T) {
	tests := []struct {
		name string
		d    app.Decision
		want bool
	}{
		{"no AOR", app.Decision{Reply: 400, Reason: app.ReasonToMissing}, true},
		{"foreign domain", app.Decision{Reply: 403, Reason: app.ReasonNotServed, AOR: "a@example.net"}, true},
		{"423", app.Decision{Reply: 423, Reason: app.ReasonTooBrief, AOR: "a@example.com"}, false},
		{"bad contact", app.Decision{Reply: 400, Reason: "Invalid Contact", AOR: "a@example.com"}, false},
		{"fetch", app.Decision{Reply: 200, Fetch: true, AOR: "a@example.com"}, false},
	}
	for _, tc := range tests {
		if got := beforeAuth(tc.d); got != tc.want {
			t.Errorf("%s: beforeAuth = %v", tc.name, got)
		}
	}
}
