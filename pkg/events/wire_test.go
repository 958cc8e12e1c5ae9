package events_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

func sipSamples(t testing.TB) map[string]*events.SIP {
	inv, err := os.ReadFile("testdata/invite.sip")
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 12, 2, 9, 0, 0, 123456789, time.UTC)
	return map[string]*events.SIP{
		"request": {Type: events.TypeRequestReceived, ID: "p.1", Source: "sipbus/edge/e1", Time: when,
			CallKey: "0123456789abcdef", Raw: inv, Transport: "udp", Local: "192.0.2.10:5060", Remote: "192.0.2.1:5060", Edge: "e1",
			Backlog: 1500 * time.Microsecond},
		"response over tcp": {Type: events.TypeResponseReceived, ID: "p.2", Source: "sipbus/edge/e2", Time: when,
			CallKey: "0123456789abcdef", Raw: []byte("SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n"),
			Transport: "tcp", Local: "[2001:db8::1]:5060", Remote: "[2001:db8::2]:40001", Flow: "e2~17", Edge: "e2", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"rejected": {Type: events.TypeMessageRejected, ID: "p.3", Source: "sipbus/edge/e1", Time: when,
			CallKey: "0123456789abcdef", Raw: inv, Transport: "udp", Remote: "192.0.2.1:5060", Edge: "e1",
			Status: 400, Reason: "Bad CSeq: not a number", Header: "CSeq"},
		"sent with flow": {Type: events.TypeMessageSent, ID: "q.1", Source: "sipbus/tm/tm-1", CallKey: "0123456789abcdef",
			Raw: []byte("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"), Dest: "tcp:192.0.2.1:5060/e2~17", TxKey: "s:z9hG4bK1|192.0.2.1:5060|INVITE"},
		"sent binary body": {Type: events.TypeMessageSent, ID: "q.2", Source: "sipbus/registrar/r1", CallKey: "0123456789abcdef",
			Raw: append([]byte("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\n"), 0, 0xff, 1), Dest: "udp:192.0.2.1:5060"},
	}
}

// Every SIP message event survives NATS encoding: decoded, it is what was
// encoded; in its JSON form it validates against its schema.
func TestSIPRoundTrip(t *testing.T) {
	for name, s := range sipSamples(t) {
		t.Run(name, func(t *testing.T) {
			m := s.Encode(bus.SubjectRequestIn("INVITE", s.CallKey))
			if m.Header.Get(bus.HeaderMsgID) != "" {
				t.Error("a SIP event carries Nats-Msg-Id: the stream would keep every id in its dedupe window")
			}
			if got := m.Header[bus.HeaderContentType]; len(got) != 1 || got[0] != events.ContentTypeSIP {
				t.Errorf("content-type %v", got)
			}
			back, err := events.DecodeSIP(m)
			if err != nil {
				t.Fatal(err)
			}
			back.NATSSubject = ""
			if !back.Time.Equal(s.Time) {
				t.Errorf("time %v, want %v", back.Time, s.Time)
			}
			back.Time = s.Time
			if !reflect.DeepEqual(back, s) {
				t.Errorf("decoded\n %+v\nwant\n %+v", back, s)
			}
			if err := events.ValidateSIP(s); err != nil {
				t.Errorf("schema: %v", err)
			}
		})
	}
}

// A broken event is refused with the attribute at fault named.
func TestDecodeSIPRejects(t *testing.T) {
	good := func() *nats.Msg {
		return sipSamples(t)["request"].Encode("sip.01.in.req.INVITE.0123456789abcdef")
	}
	cases := []struct {
		name, want string
		edit       func(m *nats.Msg)
	}{
		{"no headers", "binary content mode", func(m *nats.Msg) { m.Header = nil }},
		{"spec version", "specversion", func(m *nats.Msg) { m.Header[bus.HeaderSpecVersion] = []string{"0.3"} }},
		{"json event", "not a SIP message type", func(m *nats.Msg) { m.Header[bus.HeaderType] = []string{events.TypeCallMissed} }},
		{"no id", "missing id", func(m *nats.Msg) { delete(m.Header, bus.HeaderID) }},
		{"no source", "missing source", func(m *nats.Msg) { delete(m.Header, bus.HeaderSource) }},
		{"no callkey", "missing callkey", func(m *nats.Msg) { delete(m.Header, bus.HeaderCallKey) }},
		{"empty data", "empty data", func(m *nats.Msg) { m.Data = nil }},
		{"json data", "content-type", func(m *nats.Msg) { m.Header[bus.HeaderContentType] = []string{"application/json"} }},
		{"bad time", "time", func(m *nats.Msg) { m.Header[bus.HeaderTime] = []string{"yesterday"} }},
		{"bad transport", "siptransport", func(m *nats.Msg) { m.Header[events.HeaderSIPTransport] = []string{"sctp"} }},
		{"bad remote", "sipremote", func(m *nats.Msg) { m.Header[events.HeaderSIPRemote] = []string{"nowhere"} }},
		{"no edge", "sipedge", func(m *nats.Msg) { delete(m.Header, events.HeaderSIPEdge) }},
		{"rejected without status", "sipstatus", func(m *nats.Msg) {
			m.Header[bus.HeaderType] = []string{events.TypeMessageRejected}
		}},
		{"sent without dest", "sipdest", func(m *nats.Msg) { m.Header[bus.HeaderType] = []string{events.TypeMessageSent} }},
		{"backlog not a number", "sipbacklog", func(m *nats.Msg) { m.Header[events.HeaderSIPBacklog] = []string{"-3"} }},
		{"backlog over an hour", "sipbacklog", func(m *nats.Msg) { m.Header[events.HeaderSIPBacklog] = []string{"3600000001"} }},
		{"sent to a flow over udp", "not udp", func(m *nats.Msg) {
			m.Header[bus.HeaderType] = []string{events.TypeMessageSent}
			m.Header[events.HeaderSIPDest] = []string{"udp:192.0.2.1:5060/e1~3"}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := good()
			c.edit(m)
			_, err := events.DecodeSIP(m)
			if !errors.Is(err, events.ErrBadSIPEvent) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("DecodeSIP = %v, want ErrBadSIPEvent naming %q", err, c.want)
			}
		})
	}
}

func TestParseDest(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"udp:192.0.2.1:5060", "udp:192.0.2.1:5060", true},
		{"tcp:[2001:db8::1]:5061/e1~4", "tcp:[2001:db8::1]:5061/e1~4", true},
		{"tcp:/e1~4", "tcp:/e1~4", true},
		{"udp:[::ffff:192.0.2.1]:5060", "udp:192.0.2.1:5060", true},
		{"udp:/e1~4", "", false},
		{"udp:", "", false},
		{"tcp:", "", false},
		{"sctp:192.0.2.1:5060", "", false},
		{"udp:host:5060", "", false},
		{"tcp:192.0.2.1:5060/noflow", "", false},
		{"", "", false},
		{"tls:192.0.2.1:5061/e1~4", "tls:192.0.2.1:5061/e1~4", true},
		{"tls:192.0.2.1:5061#pbx.example.com", "tls:192.0.2.1:5061#pbx.example.com", true},
		{"ws:/e1~7", "ws:/e1~7", true},
		{"wss:127.0.0.1:50000/e-1_x~12", "wss:127.0.0.1:50000/e-1_x~12", true},
		{"tcp:192.0.2.1:5060#pbx.example.com", "", false}, // a server name is for tls
		{"tls:192.0.2.1:5061#bad name", "", false},
		{"tls:192.0.2.1:5061#", "", false},
		{"ws:/e1~x", "", false},
		{"ws:/~1", "", false},
		{"ws:/e.1~1", "", false},
		{"WS:/e1~1", "", false},
	} {
		d, err := events.ParseDest(tc.in)
		if (err == nil) != tc.ok || (tc.ok && d.String() != tc.want) {
			t.Errorf("ParseDest(%q) = %q, %v; want %q ok=%v", tc.in, d.String(), err, tc.want, tc.ok)
		}
	}
	if events.FlowEdge("e1~4") != "e1" || events.FlowEdge("plain") != "plain" {
		t.Error("FlowEdge")
	}
}

func TestHeaderValue(t *testing.T) {
	if got := events.HeaderValue("a\r\nb\x00c", 100); got != "a  b c" {
		t.Errorf("control characters: %q", got)
	}
	if got := events.HeaderValue(strings.Repeat("x", 50), 10); got != strings.Repeat("x", 10) {
		t.Errorf("cut: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = events.HeaderValue("clean value", 100) }); n != 0 {
		t.Errorf("a clean value allocates %v times", n)
	}
}

// FuzzDecodeSIP: any headers and payload a peer may publish give an event
// or an error, never a panic; what decodes encodes back to the same event.
func FuzzDecodeSIP(f *testing.F) {
	for _, s := range sipSamples(f) {
		m := s.Encode("x")
		f.Add(m.Header.Get(bus.HeaderType), m.Header.Get(bus.HeaderTime), m.Header.Get(events.HeaderSIPTransport),
			m.Header.Get(events.HeaderSIPRemote), m.Header.Get(events.HeaderSIPDest), m.Header.Get(events.HeaderSIPStatus),
			m.Header.Get(events.HeaderSIPBacklog), s.Raw)
	}
	f.Fuzz(func(t *testing.T, typ, tm, transport, remote, dest, status, backlog string, data []byte) {
		m := sipSamples(t)["request"].Encode("x")
		m.Data = data
		for k, v := range map[string]string{bus.HeaderType: typ, bus.HeaderTime: tm, events.HeaderSIPTransport: transport,
			events.HeaderSIPRemote: remote, events.HeaderSIPDest: dest, events.HeaderSIPStatus: status, events.HeaderSIPBacklog: backlog} {
			if v == "" {
				delete(m.Header, k)
			} else {
				m.Header[k] = []string{v}
			}
		}
		s, err := events.DecodeSIP(m)
		if err != nil {
			return
		}
		again, err := events.DecodeSIP(s.Encode("x"))
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if again.Type != s.Type || again.Dest != s.Dest || again.Status != s.Status || again.Backlog != s.Backlog || !bytes.Equal(again.Raw, s.Raw) {
			t.Fatalf("re-encoding changed the event:\n%+v\n%+v", s, again)
		}
		if _, err := s.JSON(); err != nil {
			t.Fatalf("JSON: %v", err)
		}
	})
}

// FuzzParseDest: ParseDest never panics, and what it accepts prints back
// to a form it accepts the same way.
func FuzzParseDest(f *testing.F) {
	for _, s := range []string{"udp:192.0.2.1:5060", "tcp:[2001:db8::1]:5061/e1~4", "tcp:/e1~4", "udp:/x", "tcp:1.2.3.4:0/a~b",
		"tls:[::1]:5061/e1~2#sip.example.com", "wss:/e1~9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := events.ParseDest(s)
		if err != nil {
			return
		}
		again, err := events.ParseDest(d.String())
		if err != nil || again != d {
			t.Fatalf("ParseDest(%q) = %+v; its String %q parses to %+v, %v", s, d, d.String(), again, err)
		}
	})
}

func BenchmarkSIPEncodeDecode(b *testing.B) {
	s := sipSamples(b)["request"]
	b.ReportAllocs()
	for b.Loop() {
		m := s.Encode("sip.01.in.req.INVITE.0123456789abcdef")
		if _, err := events.DecodeSIP(m); err != nil {
			b.Fatal(err)
		}
	}
}

// A producer that canonicalises header names ("Ce-Id", as Go's net/http
// does) is read all the same.
func TestDecodeSIPCanonicalHeaders(t *testing.T) {
	m := sipSamples(t)["request"].Encode("x")
	canon := nats.Header{}
	for k, v := range m.Header {
		canon[strings.ToUpper(k[:1])+k[1:]] = v
	}
	m.Header = canon
	s, err := events.DecodeSIP(m)
	if err != nil || s.ID != "p.1" || s.Edge != "e1" {
		t.Fatalf("DecodeSIP = %+v, %v", s, err)
	}

	// One name canonicalised among lower-case ones is read too.
	m = sipSamples(t)["request"].Encode("x")
	m.Header["Ce-Sipedge"] = m.Header[events.HeaderSIPEdge]
	delete(m.Header, events.HeaderSIPEdge)
	if s, err := events.DecodeSIP(m); err != nil || s.Edge != "e1" {
		t.Fatalf("DecodeSIP with Ce-Sipedge = %+v, %v", s, err)
	}
}

// The backlog travels in whole microseconds, rounded up, so the low
// watermark a subscriber computes is never later than the edge's; absent,
// the watermark is the message's own time.
func TestSIPBacklog(t *testing.T) {
	s := sipSamples(t)["request"]
	s.Backlog = 1234 * time.Nanosecond
	m := s.Encode("x")
	if got := m.Header.Get(events.HeaderSIPBacklog); got != "2" {
		t.Errorf("sipbacklog %q, want 2 (µs, rounded up)", got)
	}
	back, err := events.DecodeSIP(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := s.Time.Add(-2 * time.Microsecond); !back.Low().Equal(want) {
		t.Errorf("Low %v, want %v", back.Low(), want)
	}
	s.Backlog = 0
	m = s.Encode("x")
	if _, ok := m.Header[events.HeaderSIPBacklog]; ok {
		t.Error("no backlog, yet a sipbacklog attribute")
	}
	if back, err = events.DecodeSIP(m); err != nil || !back.Low().Equal(s.Time) {
		t.Errorf("Low %v (%v), want the message's time %v", back.Low(), err, s.Time)
	}
	if (&events.SIP{}).Low() != (time.Time{}) {
		t.Error("a message without a time has a watermark")
	}
}
