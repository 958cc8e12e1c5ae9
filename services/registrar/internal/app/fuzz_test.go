package app

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// FuzzDecide feeds arbitrary messages to Decide and checks what it promises:
// it never panics; an Update is always acceptable to the location store
// (never ErrInvalid); every reply it leads to parses back as SIP.
func FuzzDecide(f *testing.F) {
	if raw, err := os.ReadFile(filepath.Join("testdata", "register.sip")); err == nil {
		f.Add(string(raw))
	}
	for _, mods := range [][]string{
		{"Contact: *", "Expires: 0"},
		{"Contact: <sip:a@192.0.2.1>;q=0.5;expires=30"},
		{`Contact: "x" <sip:a@h;ob>;+sip.instance="<urn:uuid:1>";reg-id=3, sip:b@h;expires=0`, "Path: <sip:p;lr>"},
		{"To: <tel:+1555>"},
	} {
		f.Add(string(register(f, mods...).Raw))
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := sipmsg.Parse([]byte(raw), sipmsg.Stream)
		if err != nil {
			return
		}
		d := Decide(m, Source{Transport: "udp", Received: "udp:192.0.2.1:5060"}, now, Options{})
		switch {
		case d.Update != nil:
			bs, _, err := location.NewMemory().Apply(t.Context(), *d.Update)
			if errors.Is(err, location.ErrInvalid) {
				t.Fatalf("Decide made an update the store rejects: %v\n%+v", err, d.Update)
			}
			mustParse(t, OK(m, bs, now, sipmsg.ReplyOptions{}))
		case d.Fetch:
			mustParse(t, OK(m, nil, now, sipmsg.ReplyOptions{}))
		default:
			if d.Reply < 300 {
				t.Fatalf("error decision with status %d: %+v", d.Reply, d)
			}
			mustParse(t, Reject(m, d, sipmsg.ReplyOptions{}))
		}
	})
}

func mustParse(t *testing.T, reply []byte) {
	t.Helper()
	m, err := sipmsg.Parse(reply, sipmsg.Stream)
	if err != nil || m.Request {
		t.Fatalf("reply does not parse as a response (%v):\n%s", err, reply)
	}
}
