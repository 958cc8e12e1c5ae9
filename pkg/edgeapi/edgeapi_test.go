package edgeapi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

type recorder struct{ msgs []*nats.Msg }

func (r *recorder) PublishMsg(_ context.Context, m *nats.Msg) error {
	r.msgs = append(r.msgs, m)
	return nil
}

const ok200 = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>;tag=2\r\nCall-ID: c1@h\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"

// Send publishes one sip.out event on the subject of the edge that must
// send it: the named edge, the flow's edge whatever was named, or any.
func TestSend(t *testing.T) {
	ck := sipmsg.CallKey("c1@h")
	p := "sip." + ck[:2] + ".out."
	cases := []struct {
		name    string
		m       edgeapi.Message
		subject string
	}{
		{"response from its edge", edgeapi.Message{Raw: []byte(ok200), Dest: "udp:192.0.2.1:5060", Edge: "e1", TxKey: "s:k"}, p + "e1.res.2xx"},
		{"any edge", edgeapi.Message{Raw: []byte(ok200), Dest: "udp:192.0.2.1:5060"}, p + "any.res.2xx"},
		{"the flow's edge", edgeapi.Message{Raw: []byte(ok200), Dest: "tcp:192.0.2.1:5060/e2~9", Edge: "e1"}, p + "e2.res.2xx"},
		{"request", edgeapi.Message{Raw: []byte("BYE sip:b@192.0.2.9 SIP/2.0\r\nCall-ID: c1@h\r\n\r\n"), Dest: "udp:192.0.2.9:5060", CallKey: ck}, p + "any.req.BYE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{}
			if err := edgeapi.NewSender(r, "sipbus/tm/t1").Send(context.Background(), &c.m); err != nil {
				t.Fatal(err)
			}
			if len(r.msgs) != 1 || r.msgs[0].Subject != c.subject {
				t.Fatalf("published %d, subject %q; want %q", len(r.msgs), r.msgs[0].Subject, c.subject)
			}
			s, err := events.DecodeSIP(r.msgs[0])
			if err != nil {
				t.Fatal(err)
			}
			if s.Type != events.TypeMessageSent || s.Dest != c.m.Dest || s.TxKey != c.m.TxKey || s.CallKey != ck || s.Source != "sipbus/tm/t1" {
				t.Errorf("event %+v", s)
			}
			if err := events.ValidateSIP(s); err != nil {
				t.Error(err)
			}
		})
	}
	for _, bad := range []edgeapi.Message{
		{Raw: []byte(ok200), Dest: "sctp:1.2.3.4:5"},
		{Raw: []byte("garbage"), Dest: "udp:192.0.2.1:5060"},
		{Raw: []byte("SIP/2.0 2x0 OK\r\n"), Dest: "udp:192.0.2.1:5060", CallKey: ck},
	} {
		if err := edgeapi.NewSender(&recorder{}, "sipbus/x/1").Send(context.Background(), &bad); !errors.Is(err, edgeapi.ErrBadMessage) {
			t.Errorf("Send(%q to %q) = %v, want ErrBadMessage", bad.Raw, bad.Dest, err)
		}
	}
}

// ReplyDest is RFC 3261 §18.2.2 / RFC 3581: rport or an unreadable Via
// answers the source port, otherwise the Via's; a connection answers on
// itself.
func TestReplyDest(t *testing.T) {
	req := func(via string) *sipmsg.Msg {
		m, err := sipmsg.Parse([]byte("OPTIONS sip:x SIP/2.0\r\nVia: "+via+"\r\nCall-ID: c\r\n\r\n"), sipmsg.Datagram)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct{ via, transport, remote, flow, want string }{
		{"SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport", "udp", "192.0.2.1:40000", "", "udp:192.0.2.1:40000"},
		{"SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1", "udp", "192.0.2.1:40000", "", "udp:192.0.2.1:5070"},
		{"SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1", "udp", "192.0.2.1:40000", "", "udp:192.0.2.1:5060"},
		{"SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK1", "tcp", "192.0.2.1:40000", "e1~3", "tcp:192.0.2.1:40000/e1~3"},
	} {
		if got := edgeapi.ReplyDest(req(c.via), c.transport, c.remote, c.flow); got != c.want {
			t.Errorf("Via %q from %s: %q, want %q", c.via, c.remote, got, c.want)
		}
	}
}
