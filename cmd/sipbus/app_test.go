package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

type handed struct {
	ev *events.SIP
	m  *sipmsg.Msg
}

// TestAppHandOver: a route with `app: NAME` hands the transaction to an
// application on app.NAME.<p>; the application answers with tm's
// command endpoint, by reply or by relay (the SEAS idea on the bus).
func TestAppHandOver(t *testing.T) {
	sipPort, natsPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "tcp")
	uac, uas := newUA(t), newUA(t)
	proxy := fmt.Sprintf("127.0.0.1:%d", sipPort)
	routesFile := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routesFile, []byte(`routes:
  - match: {method: MESSAGE, user: echo}
    app: echo
  - match: {method: INVITE, user: fwd}
    app: router
  - reply: {code: 403, reason: Relaying denied}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "up", "--sip", proxy, "--data", t.TempDir(), "--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--log-level", "warn", "--routes", routesFile)
	p.waitLine(t, "ready", 30*time.Second)
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	command := func(c events.TMCommand) events.TMCommandReply {
		b, _ := json.Marshal(c)
		msg, err := nc.Request(events.TMCommandSubject, b, 5*time.Second)
		if err != nil {
			t.Fatalf("tm command: %v", err)
		}
		var rep events.TMCommandReply
		if err := json.Unmarshal(msg.Data, &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// An application takes the hand-over from the stream (a durable
	// consumer: it may start after the request arrived): the request event,
	// with the server transaction's key in the siptxkey attribute.
	got := make(chan handed, 4)
	for _, app := range []string{"echo", "router"} {
		cons, err := js.CreateOrUpdateConsumer(testenv.Context(t, 10*time.Second), bus.DefaultStream, jetstream.ConsumerConfig{
			Durable: "app-" + app, FilterSubject: "app." + app + ".>", AckPolicy: jetstream.AckExplicitPolicy,
		})
		if err != nil {
			t.Fatal(err)
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			_ = m.Ack()
			s, err := events.DecodeSIP(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
			if err != nil {
				t.Errorf("hand-over event: %v", err)
				return
			}
			req, err := sipmsg.Parse(s.Raw, sipmsg.Datagram)
			if err != nil {
				t.Errorf("hand-over data: %v", err)
				return
			}
			got <- handed{s, req}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Stop()
	}

	uac.send(proxy, fmt.Sprintf(`MESSAGE sip:echo@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-app-1;rport
From: <sip:alice@localhost>;tag=a1
To: <sip:echo@localhost>
Call-ID: app-1@test
CSeq: 1 MESSAGE
Max-Forwards: 70
Content-Type: text/plain
Content-Length: 5

hello`, uac.addr))
	var req handed
	select {
	case req = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the echo application got no request")
	}
	if req.m.Str(req.m.Method) != "MESSAGE" || req.m.CallID() != "app-1@test" || !strings.HasPrefix(req.ev.Source, "sipbus/tm/") || req.ev.TxKey == "" {
		t.Fatalf("handed over %s %s from %s, tx key %q", req.m.Str(req.m.Method), req.m.CallID(), req.ev.Source, req.ev.TxKey)
	}
	ck := callKeyOf(req.m.CallID())
	if rep := command(events.TMCommand{Action: "reply", CallKey: ck, TxKey: "nope", Code: 200}); rep.Status != 404 {
		t.Errorf("unknown tx_key: %+v, want 404", rep)
	}
	if rep := command(events.TMCommand{Action: "reply", CallKey: ck, TxKey: req.ev.TxKey, Code: 42}); rep.Status != 400 {
		t.Errorf("bad code: %+v, want 400", rep)
	}
	if rep := command(events.TMCommand{Action: "reply", CallKey: ck, TxKey: req.ev.TxKey, Code: 200, Reason: "Echoed", Headers: []string{"X-Echo: hello"}}); rep.Status != 200 {
		t.Fatalf("reply: %+v", rep)
	}
	m := uac.recv(5*time.Second, isResponse(200, "MESSAGE"))
	if m == nil {
		t.Fatal("the application's 200 did not reach the caller")
	}
	if !hasLine(m.Raw, "X-Echo: hello") {
		t.Errorf("reply lacks the application's header:\n%s", m.Raw)
	}
	if rep := command(events.TMCommand{Action: "reply", CallKey: ck, TxKey: req.ev.TxKey, Code: 486}); rep.Status != 409 {
		t.Errorf("second final: %+v, want 409", rep)
	}

	uac.send(proxy, fmt.Sprintf(`INVITE sip:fwd@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-app-2;rport
From: <sip:alice@localhost>;tag=a2
To: <sip:fwd@localhost>
Call-ID: app-2@test
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, uac.addr, uac.addr))
	select {
	case req = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the router application got no request")
	}
	if rep := command(events.TMCommand{Action: "relay", CallKey: callKeyOf(req.m.CallID()), TxKey: req.ev.TxKey, RequestURI: "sip:bob@" + uas.addr}); rep.Status != 200 {
		t.Fatalf("relay: %+v", rep)
	}
	inv := uas.recv(5*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatal("the relayed INVITE did not reach the callee")
	}
	if got := inv.Str(inv.RequestURI); got != "sip:bob@"+uas.addr {
		t.Errorf("Request-URI %q", got)
	}
	uas.sendRaw(proxy, replyTo(inv, 486, "Busy Here"))
	if uac.recv(5*time.Second, isResponse(486, "INVITE")) == nil {
		t.Fatal("the callee's 486 did not reach the caller")
	}
}
