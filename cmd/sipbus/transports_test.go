package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// upSIPLine is the listener line `sipbus up` prints.
var upSIPLine = regexp.MustCompile(`^  sip    udp (\S+), tcp (\S+), tls (\S+), ws (\S+), wss (\S+)$`)

// listeners reads every listener address from the sip line of a started
// `sipbus up`, and the edge id from the line after it.
func listeners(t *testing.T, p *proc) (map[string]string, string) {
	t.Helper()
	var got map[string]string
	edgeID := ""
	for _, l := range p.seen {
		if m := upSIPLine.FindStringSubmatch(l); m != nil {
			got = map[string]string{"udp": m[1], "tcp": m[2], "tls": m[3], "ws": m[4], "wss": m[5]}
		}
		if id, ok := strings.CutPrefix(l, "  edge   "); ok {
			edgeID = id
		}
	}
	if got == nil || edgeID == "" {
		t.Fatalf("no sip line `udp ADDR, tcp ADDR, tls ADDR, ws ADDR, wss ADDR` and edge line in:\n%s", strings.Join(p.seen, "\n"))
	}
	for tr, a := range got {
		if _, err := net.ResolveTCPAddr("tcp", a); err != nil {
			t.Fatalf("%s listener %q is not an address (all are on by default on loopback)", tr, a)
		}
	}
	return got, edgeID
}

// edgeFlows asks the edge's stats endpoint how many connections are open.
func edgeFlows(t *testing.T, natsURL, edgeID string) int {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r, err := nc.Request(edgeapi.EdgeStatsSubject(edgeID), nil, 2*time.Second)
	if err != nil {
		t.Fatalf("edge stats: %v", err)
	}
	var st struct {
		Flows *int `json:"flows"`
	}
	if err := json.Unmarshal(r.Data, &st); err != nil || st.Flows == nil {
		t.Fatalf("edge stats %s: no flows (%v)", r.Data, err)
	}
	return *st.Flows
}

// TestTLSAndWebSocketPhones: with `sipbus up` defaults (TLS, WS and WSS on
// loopback, the self-signed certificate, digest authentication), phones
// over TLS (crypto/tls) and over WebSocket and secure WebSocket
// (coder/websocket) register and call SIPp over UDP and TCP, and SIPp
// calls them; calls cross transports both ways and BYE goes both
// directions through the double Record-Route, each call with its terminal
// event. Afterwards the edge holds no connection.
func TestTLSAndWebSocketPhones(t *testing.T) {
	sippPath(t)
	s := startUp(t)
	ls, edgeID := listeners(t, s.p)
	calls := watchCalls(t, s.nats)
	bobPort := testenv.FreePort(t, "udp")
	cli(t, s.nats, "ul", "add", "bob@localhost", fmt.Sprintf("sip:bob@127.0.0.1:%d", bobPort), "--expires", "0")
	for _, u := range []string{"alice", "carol", "dave"} {
		cli(t, s.nats, "user", "add", u+"@localhost", "--password", "pw-"+u)
	}
	roots := trustServed(t, ls["tls"])
	alice := tlsPhone(t, "alice", ls["tls"], roots)
	alice.register("pw-alice")
	carol := wsPhone(t, "carol", "ws://"+ls["ws"]+"/", nil)
	carol.register("pw-carol")
	dave := wsPhone(t, "dave", "wss://"+ls["wss"]+"/sip", roots)
	dave.register("pw-dave")

	uacPort := strconv.Itoa(testenv.FreePort(t, "udp"))
	uac := func(name, scenario, callee string, extra ...string) *sipp {
		args := append([]string{s.sip, "-p", uacPort, "-s", callee, "-key", "domain", "localhost", "-m", "1",
			"-cid_str", name + "-%u-%p@[local_ip]"}, extra...)
		return runSIPp(t, name, scenario, args...)
	}
	expect := func(marker, want string) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() bool { _, terms, _ := calls.terminals(marker); return terms[want] == 1 },
			"call %s: want its terminal event %s", marker, want)
		if n, terms, _ := calls.terminals(marker); n != 1 || len(terms) != 1 {
			t.Errorf("call %s: %d calls, terminal events %v; want one %s", marker, n, terms, want)
		}
	}

	t.Run("tls and ws callers to a udp callee, callers hang up", func(t *testing.T) {
		uas := runSIPp(t, "uas", "uas.xml", "-p", strconv.Itoa(bobPort))
		alice.call("bob", "tls-udp-").hangUp()
		carol.call("bob", "ws-udp-").hangUp()
		dave.call("bob", "wss-udp-").hangUp()
		uas.stopClean(t)
		expect("tls-udp-", "ended:caller")
		expect("ws-udp-", "ended:caller")
		expect("wss-udp-", "ended:caller")
	})
	t.Run("tls and ws callers to a udp callee that hangs up", func(t *testing.T) {
		uas := runSIPp(t, "uas_bye", "uas_bye.xml", "-p", strconv.Itoa(bobPort), "-m", "2")
		carol.call("bob", "udpbye-ws-").awaitHangUp()
		alice.call("bob", "udpbye-tls-").awaitHangUp()
		uas.wait(t, 30*time.Second)
		expect("udpbye-ws-", "ended:callee")
		expect("udpbye-tls-", "ended:callee")
	})
	t.Run("udp caller to a ws callee, caller hangs up", func(t *testing.T) {
		c := uac("udp-ws", "uac.xml", "carol")
		carol.answer().awaitHangUp()
		c.wait(t, 30*time.Second)
		expect("udp-ws-", "ended:caller")
	})
	t.Run("udp caller to a wss callee that hangs up", func(t *testing.T) {
		c := uac("udp-wss", "uac_wait_bye.xml", "dave")
		dave.answer().hangUp()
		c.wait(t, 30*time.Second)
		expect("udp-wss-", "ended:callee")
	})
	t.Run("tcp caller to a tls callee, both ways of hanging up", func(t *testing.T) {
		c := uac("tcp-tls", "uac.xml", "alice", "-t", "t1")
		alice.answer().awaitHangUp()
		c.wait(t, 30*time.Second)
		expect("tcp-tls-", "ended:caller")
		c = uac("tcpbye-tls", "uac_wait_bye.xml", "alice", "-t", "t1")
		alice.answer().hangUp()
		c.wait(t, 30*time.Second)
		expect("tcpbye-tls-", "ended:callee")
	})

	for _, p := range []*phone{alice, carol, dave} {
		p.close()
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return edgeFlows(t, s.nats, edgeID) == 0 },
		"the edge still holds %d connections after every phone hung up and left", edgeFlows(t, s.nats, edgeID))
}

// TestTransportsBadInput: a TLS handshake of garbage and a WebSocket
// message over the limit each get a log line naming the peer and the
// fault and a closed connection; `sipbus up` keeps serving and holds no
// connection afterwards.
func TestTransportsBadInput(t *testing.T) {
	s := startUp(t, "--log-level", "info")
	ls, edgeID := listeners(t, s.p)

	c, err := net.Dial("tcp", ls["tls"])
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("REGISTER sip:localhost SIP/2.0\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, bufio.NewReader(c)); err != nil {
		t.Fatalf("TLS connection with a garbage handshake not closed: %v", err)
	}
	_ = c.Close()

	ws, _, err := websocket.Dial(context.Background(), "ws://"+ls["ws"]+"/", &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	big := "MESSAGE sip:bob@localhost SIP/2.0\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("x", 70000)
	if err := ws.Write(context.Background(), websocket.MessageText, []byte(big)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("after a message over max_message: %v, want close 1009", err)
	}

	testenv.Eventually(t, 5*time.Second, func() bool {
		log := s.p.stderrString()
		return strings.Contains(log, "tls handshake failed") && strings.Contains(log, "websocket message over the limit")
	}, "no log lines for the bad handshake and the oversized message:\n%s", s.p.stderrString())
	for _, l := range strings.Split(s.p.stderrString(), "\n") {
		if strings.Contains(l, "websocket message over the limit") && !(strings.Contains(l, "remote=127.0.0.1:") && strings.Contains(l, "max_message=65535")) {
			t.Errorf("log line %q: want the peer and the limit", l)
		}
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return edgeFlows(t, s.nats, edgeID) == 0 }, "connections left open")

	// Still serving: a TLS phone registers (authentication on by default).
	cli(t, s.nats, "user", "add", "erin@localhost", "--password", "pw-erin")
	tlsPhone(t, "erin", ls["tls"], trustServed(t, ls["tls"])).register("pw-erin")
}
