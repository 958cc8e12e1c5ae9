package replay

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

const invite = "INVITE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\nFrom: <sip:a@localhost>;tag=1\r\nTo: <sip:bob@localhost>\r\nCall-ID: c1@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"

// items builds a call from encoded events, as Read does.
func items(t testing.TB, evs ...*events.SIP) *Call {
	c := &Call{CallKey: "k", CallID: "c1@test"}
	for i, s := range evs {
		it, ok := decodeMsg(s.Encode("sip.00.in.req.INVITE.k"), Item{Seq: uint64(i + 1), At: time.Unix(int64(i), 0)}, "")
		if !ok {
			t.Fatalf("event %d not decoded", i)
		}
		c.Items = append(c.Items, it)
	}
	place(c.Items)
	return c
}

// TestLadderAndPcap: a received and a sent message become two arrows
// between three columns, and two UDP packets whose payload is the message.
func TestLadderAndPcap(t *testing.T) {
	c := items(t,
		&events.SIP{Type: events.TypeRequestReceived, ID: "1", Source: "s", CallKey: "k", Time: time.Unix(10, 0), Raw: []byte(invite),
			Transport: "udp", Local: "127.0.0.1:5060", Remote: "127.0.0.1:5070", Edge: "e1"},
		&events.SIP{Type: events.TypeMessageSent, ID: "2", Source: "s", CallKey: "k", Raw: []byte(invite), Dest: "udp:[::1]:5080"},
	)
	var b bytes.Buffer
	if err := Ladder(&b, c); err != nil {
		t.Fatal(err)
	}
	if got := Columns(c); strings.Join(got, " ") != "127.0.0.1:5070 127.0.0.1:5060 [::1]:5080" {
		t.Errorf("columns %q", got)
	}
	if n := strings.Count(b.String(), "INVITE"); n != 2 {
		t.Errorf("%d INVITE labels:\n%s", n, b.String())
	}
	var p bytes.Buffer
	n, err := WritePcap(&p, c)
	if err != nil || n != 2 {
		t.Fatalf("WritePcap: %d, %v", n, err)
	}
	r, err := pcapgo.NewReader(&p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		data, _, err := r.ReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		first := layers.LayerTypeIPv4
		if i == 1 {
			first = layers.LayerTypeIPv6
		}
		pkt := gopacket.NewPacket(data, first, gopacket.Default)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || string(udp.Payload) != invite {
			t.Errorf("packet %d: %v", i, pkt)
		}
	}
}

// TestSafe: text from the network cannot forge ladder lines.
func TestSafe(t *testing.T) {
	for in, want := range map[string]string{"180 Ringing": "180 Ringing", "486 Busy\r\n== call.fake": `"486 Busy\r\n== call.fake"`, "é": `"é"`} {
		if got := safe(in); got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSummarize folds call events into calls and filters them.
func TestSummarize(t *testing.T) {
	ev := func(typ string, d map[string]any) *bus.Event {
		b, _ := json.Marshal(d)
		return &bus.Event{Type: typ, Data: b}
	}
	party := func(u string) map[string]any { return map[string]any{"uri": u} }
	evs := []*bus.Event{
		ev(events.TypeCallStarted, map[string]any{"call_id": "x", "call_key": "k1", "caller": party("sip:alice@l"), "callee": party("sip:bob@l")}),
		ev(events.TypeCallMissed, map[string]any{"call_key": "k1", "reason": "busy", "status": 486}),
		ev(events.TypeCallStarted, map[string]any{"call_id": "y", "call_key": "k2", "caller": party("sip:carol@l"), "callee": party("sip:dave@l")}),
		ev(events.TypeCallAnswered, map[string]any{"call_key": "k2"}),
		ev(events.TypeCallEnded, map[string]any{"call_key": "k2", "hangup_by": "caller"}),
	}
	for _, tc := range []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{}, "x:missed,y:ended"},
		{"missed", Filter{Missed: true}, "x:missed"},
		{"user", Filter{User: "DAVE@l"}, "y:ended"},
		{"nobody", Filter{User: "eve@l"}, ""},
	} {
		var got []string
		for _, s := range Summarize(evs, tc.f) {
			got = append(got, s.CallID+":"+s.State)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzDecode: any stored message (headers and data from the network)
// decodes, places, draws and packs without a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(invite), "udp", "127.0.0.1:5060", "127.0.0.1:5070", "udp:127.0.0.1:5080", true)
	f.Add([]byte("SIP/2.0 180 Ringing\r\n\r\n"), "tcp", "[::1]:5060", "x", "ws:/e1~3", false)
	f.Add([]byte{0, 1, 2}, "", "", "", "", true)
	f.Fuzz(func(t *testing.T, raw []byte, tr, local, remote, dest string, received bool) {
		s := &events.SIP{Type: events.TypeMessageSent, ID: "1", Source: "s", CallKey: "k", Raw: raw, Dest: dest}
		if received {
			s = &events.SIP{Type: events.TypeRequestReceived, ID: "1", Source: "s", CallKey: "k", Raw: raw, Transport: tr, Local: local, Remote: remote, Edge: "e"}
		}
		c := &Call{}
		if it, ok := decodeMsg(s.Encode("sip.00.out.e.req.X.k"), Item{}, ""); ok {
			c.Items = append(c.Items, it)
		}
		if it, ok := decodeMsg(s.Encode("sip.00.in.req.X.k"), Item{}, "c1@test"); ok {
			c.Items = append(c.Items, it)
		}
		place(c.Items)
		var b bytes.Buffer
		if err := Ladder(&b, c); err != nil {
			t.Fatal(err)
		}
		if strings.Count(b.String(), "\n") != 2+2*len(c.Items)+min(len(c.Items), 1) {
			t.Fatalf("a message drew extra lines:\n%s", b.String())
		}
		if _, err := WritePcap(&bytes.Buffer{}, c); err != nil {
			t.Fatal(err)
		}
	})
}
