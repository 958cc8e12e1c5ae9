package edge_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// lookPeer finds a SIP test tool or fails saying how to install it.
func lookPeer(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found on PATH: install the Debian package %s (apt-get install %s, or run .ci/run)", bin, pkg, pkg)
	}
	return p
}

// TestSipsakOPTIONSAnsweredByAnApp: sipsak (a real SIP peer) sends OPTIONS;
// the test plays the application: it takes the request event from the bus
// and answers 200 through the edge's send command. sipsak must see the 200
// and exit 0; its retransmissions meanwhile are absorbed by the edge.
func TestSipsakOPTIONSAnsweredByAnApp(t *testing.T) {
	sipsak := lookPeer(t, "sipsak", "sipsak")
	s := newStack(t, stackOptions{})
	ctx := testenv.Context(t, 20*time.Second)

	// The application: answer every OPTIONS with 200 through the edges.
	sub, err := s.nc.Subscribe(bus.RequestInFilter("OPTIONS"), func(m *nats.Msg) {
		ev, err := events.DecodeSIP(m)
		if err != nil {
			t.Errorf("app: %v", err)
			return
		}
		req, err := sipmsg.Parse(ev.Raw, sipmsg.Datagram)
		if err != nil {
			t.Errorf("app: %v", err)
			return
		}
		s.answer(ev, sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: sipmsg.NewTag(), Server: "options-app"}), ev.Edge)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	cmd := exec.CommandContext(ctx, sipsak, "-vv", "-s", fmt.Sprintf("sip:ping@%s", s.edge.UDPAddr()))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sipsak: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "200 OK") {
		t.Fatalf("sipsak did not report 200 OK:\n%s", out)
	}
	s.settle()
	reqs := s.ofType(events.TypeRequestReceived)
	if len(reqs) != 1 {
		t.Fatalf("%d request events, want 1", len(reqs))
	}
	if n := len(s.ofType(events.TypeMessageSent)); n != 1 {
		t.Fatalf("%d message.sent events, want 1", n)
	}
	if !strings.Contains(string(reqs[0].Raw), "sipsak") {
		t.Fatalf("request event does not carry sipsak's message: %q", reqs[0].Raw)
	}
}
