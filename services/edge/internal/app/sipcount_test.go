package app

import (
	"fmt"
	"testing"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

func TestSIPCounts(t *testing.T) {
	var c SIPCounts
	for _, m := range []string{
		"INVITE sip:a@b SIP/2.0\r\n", "INVITE sip:a@b SIP/2.0\r\n", "ACK sip:a@b SIP/2.0\r\n",
		"FOO sip:a@b SIP/2.0\r\n", "SIP/2.0 200 OK\r\n", "SIP/2.0 100 Trying\r\n", "SIP/2.0 200 OK\r\n",
		"SIP/2.0 9x9 Bad\r\n", "", "\r\n\r\n", "SIP/2.0 099 Low\r\n",
	} {
		c.Count(DirIn, []byte(m))
	}
	c.Count(DirOut, []byte("SIP/2.0 503 Service Unavailable\r\n"))
	got := map[string]uint64{}
	c.Each(func(dir int, method string, code int, n uint64) { got[fmt.Sprintf("%d/%s/%d", dir, method, code)] = n })
	want := map[string]uint64{"0/INVITE/0": 2, "0/ACK/0": 1, "0/other/0": 1, "0//200": 2, "0//100": 1, "1//503": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	if a := testing.AllocsPerRun(100, func() { c.Count(DirIn, []byte("REGISTER sip:b SIP/2.0\r\n")) }); a != 0 {
		t.Errorf("Count allocates %v times", a)
	}
}

// TestCountMsgAgrees: counting a parsed message gives what counting its
// raw bytes gives.
func TestCountMsgAgrees(t *testing.T) {
	var raw, parsed SIPCounts
	for _, b := range []string{
		"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		"FOO sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 FOO\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
	} {
		var m sipmsg.Msg
		if err := m.Parse([]byte(b), sipmsg.Datagram); err != nil {
			t.Fatalf("parse: %v\n%s", err, b)
		}
		raw.Count(DirIn, []byte(b))
		parsed.CountMsg(DirIn, &m)
	}
	dump := func(c *SIPCounts) string {
		out := ""
		c.Each(func(dir int, method string, code int, n uint64) {
			out += fmt.Sprintf("%d/%s/%d=%d ", dir, method, code, n)
		})
		return out
	}
	if a, b := dump(&raw), dump(&parsed); a != b || a == "" {
		t.Errorf("raw %q, parsed %q", a, b)
	}
}

func FuzzSIPCounts(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\n"))
	f.Add([]byte("INVITE sip:a SIP/2.0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c SIPCounts
		c.Count(DirIn, b)
		c.Count(DirOut, b)
	})
}
