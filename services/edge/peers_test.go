package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
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

	// The application: answer every OPTIONS with 200 through the edge.
	sub, err := bus.Subscribe(ctx, s.js, "options-app", bus.TypedFunc(func(ctx context.Context, ev *bus.Event, rr *events.RequestReceived) error {
		req, err := rr.Msg()
		if err != nil {
			return bus.Permanent(err)
		}
		resp := sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: sipmsg.NewTag(), Server: "options-app"})
		cl := edgeapi.Client{NC: s.nc}
		_, err = cl.Send(ctx, &edgeapi.SendRequest{
			Transport: rr.Network.Transport, Dest: rr.Network.Remote, Flow: rr.Network.Flow,
			Raw: resp, TxKey: rr.TxKey, CallKey: ev.CallKey, RequestedBy: "options-app",
		})
		return err
	}), bus.SubscribeOptions{Filters: []string{"sip.in.req.OPTIONS.>"}, DeliverNew: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Stop(context.Background()) })

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
	var rr events.RequestReceived
	_ = json.Unmarshal(reqs[0].Data, &rr)
	if !strings.Contains(string(rr.Raw), "sipsak") {
		t.Fatalf("request event does not carry sipsak's message: %q", rr.Raw)
	}
}
