package app

import (
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// FuzzEngine feeds arbitrary messages that parse to the engine as requests
// and as responses: nothing may panic, whatever the headers say.
func FuzzEngine(f *testing.F) {
	f.Add([]byte(strings.ReplaceAll(invite(1, "sip:bob@example.com"), "\n", "\r\n")))
	f.Add([]byte(strings.ReplaceAll(invite(2, "sip:"+proxyAddr), "\n", "\r\n")))
	f.Add([]byte("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP " + proxyAddr + ";branch=z9hG4bKsb0123456789abcdef.0\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := sipmsg.Parse(raw, sipmsg.Datagram)
		if err != nil {
			return
		}
		h := newHarness(t, "", bob)
		in := &Inbound{Msg: m, CallKey: sipmsg.CallKey(m.CallID()), Src: Source{Transport: "udp", Remote: "198.51.100.7:5060"}}
		if m.Request {
			key, err := sipmsg.ServerTxKey(m)
			if err != nil {
				return
			}
			in.TxKey = key
			_ = h.e.Request(h.ctx(), in)
			for _, out := range h.take() {
				if !out.Request {
					continue
				}
				// A forwarded request fed back must be handled too (loops).
				if k, err := sipmsg.ServerTxKey(out); err == nil {
					_ = h.e.Request(h.ctx(), &Inbound{Msg: out, TxKey: k, CallKey: in.CallKey, Src: in.Src})
				}
			}
			return
		}
		_ = h.e.Response(h.ctx(), in)
		h.fire(64 * 500 * 1e6)
	})
}
