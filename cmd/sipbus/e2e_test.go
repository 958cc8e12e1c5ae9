package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// sipbusBinary builds the command once per test run.
func sipbusBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sipbus-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sipbus")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running sipbus command whose stdout lines arrive on lines.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	seen   []string // every line waitLine consumed
	stderr *strings.Builder
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(sipbusBinary(t), args...)
	cmd.Env = os.Environ() // the developer's SIPBUS_NATS_URL and SIPBUS_REDIS_URL are cleared in TestMain
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000), stderr: new(strings.Builder)}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("sipbus %s did not stop within 10s of SIGINT", args[0])
		}
	})
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// stderrString is what the process wrote to stderr so far.
func (p *proc) stderrString() string {
	w := p.cmd.Stderr.(*lockedWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return p.stderr.String()
}

// waitLine returns the first line containing s.
func (p *proc) waitLine(t *testing.T, s string, d time.Duration) string {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("output ended before %q; stderr:\n%s", s, p.stderr.String())
			}
			p.seen = append(p.seen, l)
			if strings.Contains(l, s) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q within %v; stderr:\n%s", s, d, p.stderr.String())
		}
	}
}

// TestUpTailOPTIONS runs `sipbus up` and `sipbus tail --json` as a user
// would and checks the acceptance points end to end: the same OPTIONS twice
// yields one request event (the edge counts the retransmission); a request
// without Call-ID gets a 400 naming Call-ID; an answer published for the
// edges is sent and then resent by the edge for the retransmission, with
// no new request event; every event tail prints is CloudEvent JSON the SDK
// reads and that validates against its schema.
func TestUpTailOPTIONS(t *testing.T) {
	sipPort := testenv.FreePort(t, "udp")
	natsPort := testenv.FreePort(t, "tcp")
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	// OPTIONS goes to an application (this test), which answers through
	// the bus; tm only hands it over.
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routes, []byte("routes:\n  - match: {method: OPTIONS}\n    app: e2e\n  - reply: {code: 403}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := start(t, "up", "--sip", fmt.Sprintf("127.0.0.1:%d", sipPort),
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--data", t.TempDir(), "--edge-id", "e2e", "--routes", routes)
	up.waitLine(t, "ready", 30*time.Second)

	tail := start(t, "tail", "--json", "--nats", natsURL, "--type", "sipbus.")
	time.Sleep(500 * time.Millisecond) // the ordered consumer starts at new events

	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	edgeAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sipPort}
	myPort := c.LocalAddr().(*net.UDPAddr).Port
	send := func(s string) {
		if _, err := c.WriteToUDP([]byte(s), edgeAddr); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() string {
		buf := make([]byte, 65536)
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	options := func(branch, callID string) string {
		cid := ""
		if callID != "" {
			cid = "Call-ID: " + callID + "\r\n"
		}
		return "OPTIONS sip:127.0.0.1 SIP/2.0\r\n" +
			fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n", myPort, branch) +
			"Max-Forwards: 70\r\nFrom: <sip:e2e@127.0.0.1>;tag=f1\r\nTo: <sip:127.0.0.1>\r\n" + cid +
			"CSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	absorbed := func() uint64 {
		m, err := nc.Request(edgeapi.EdgeStatsSubject("e2e"), nil, 2*time.Second)
		if err != nil {
			t.Fatalf("edge stats: %v", err)
		}
		var c struct{ Absorbed uint64 }
		if err := json.Unmarshal(m.Data, &c); err != nil {
			t.Fatal(err)
		}
		return c.Absorbed
	}

	// 1. The same OPTIONS twice: one request event, one retransmission counted.
	callID := "e2e-options@127.0.0.1"
	msg := options("z9hG4bK-e2e-1", callID)
	send(msg)
	first := tail.waitLine(t, events.TypeRequestReceived, 10*time.Second)
	send(msg)
	testenv.Eventually(t, 5*time.Second, func() bool { return absorbed() == 1 }, "the retransmission was not absorbed by the edge")

	// 2. No Call-ID: 400 naming Call-ID.
	send(options("z9hG4bK-e2e-2", ""))
	raw := recv()
	r, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
	if err != nil || r.StatusCode != 400 || !strings.Contains(r.Str(r.Reason), "Call-ID") {
		t.Fatalf("reply to a request without Call-ID: %q (%v); want 400 naming Call-ID", raw, err)
	}

	// 3. Answer through the bus; the retransmission is answered by the edge.
	ce := cloudevents.NewEvent()
	if err := json.Unmarshal([]byte(first), &ce); err != nil {
		t.Fatalf("tail --json line is not CloudEvent JSON: %v\n%s", err, first)
	}
	if ce.DataContentType() != events.ContentTypeSIP {
		t.Fatalf("datacontenttype %q", ce.DataContentType())
	}
	req, err := sipmsg.Parse(ce.Data(), sipmsg.Datagram)
	if err != nil {
		t.Fatalf("event data is not the SIP request: %v\n%s", err, ce.Data())
	}
	ext := ce.Extensions()
	remote, _ := ext["sipremote"].(string)
	edgeID, _ := ext["sipedge"].(string)
	ck, _ := ext["callkey"].(string)
	key, _ := sipmsg.ServerTxKey(req)
	resp := sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: sipmsg.NewTag()})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	snd := edgeapi.NewSender(bus.NewPublisher(js, "sipbus/test/e2e", bus.PublisherOptions{}), "sipbus/test/e2e")
	if err := snd.Send(context.Background(), &edgeapi.Message{Raw: resp, Dest: edgeapi.ReplyDest(req, "udp", remote, ""), Edge: edgeID, TxKey: key, CallKey: ck}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := recv(); got != string(resp) {
		t.Fatalf("got %q, want the 200", got)
	}
	send(msg)
	if got := recv(); got != string(resp) {
		t.Fatalf("retransmission answered %q, want the stored 200", got)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return absorbed() == 2 }, "the second retransmission was not absorbed")
	tail.waitLine(t, events.TypeMessageSent, 10*time.Second)

	// Give tail time to print anything late, then stop it and count.
	time.Sleep(time.Second)
	_ = tail.cmd.Process.Signal(os.Interrupt)
	all := tail.seen
	for l := range tail.lines {
		all = append(all, l)
	}
	requests := 0
	for _, l := range all {
		ev := cloudevents.NewEvent()
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not CloudEvent JSON: %v\n%s", err, l)
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("CloudEvent invalid: %v", err)
		}
		if events.IsSIPType(ev.Type()) {
			if err := events.ValidateData(events.SchemaURL(ev.Type()), []byte(l)); err != nil {
				t.Errorf("%s does not validate against its schema: %v", ev.Type(), err)
			}
		} else if err := events.Validate(&bus.Event{ID: ev.ID(), Type: ev.Type(), Source: ev.Source(), Data: ev.Data()}); err != nil {
			t.Errorf("%s does not validate against its schema: %v", ev.Type(), err)
		}
		if ev.Type() == events.TypeRequestReceived && strings.Contains(string(ev.Data()), "Call-ID: "+callID) && strings.HasPrefix(ev.Source(), "sipbus/edge/") {
			requests++
		}
	}
	if requests != 1 {
		t.Fatalf("%d request events for %s, want exactly 1:\n%s", requests, callID, strings.Join(all, "\n"))
	}
}

func TestMsgCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.sip")
	bad := filepath.Join(dir, "nocallid.sip")
	_ = os.WriteFile(good, []byte("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"), 0o644)
	_ = os.WriteFile(bad, []byte("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"), 0o644)
	out, err := exec.Command(sipbusBinary(t), "msg", "check", good, bad).Output()
	if err != nil {
		t.Fatalf("msg check on readable files must exit 0: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out)
	}
	var r1, r2 checkResult
	_ = json.Unmarshal([]byte(lines[0]), &r1)
	_ = json.Unmarshal([]byte(lines[1]), &r2)
	if !r1.Valid || r1.Status != 0 || r1.File != good {
		t.Errorf("good file: %+v", r1)
	}
	if r2.Valid || r2.Status != 400 || !strings.Contains(r2.Reason, "Call-ID") {
		t.Errorf("file without Call-ID: %+v", r2)
	}
	cmd := exec.Command(sipbusBinary(t), "msg", "check", good, filepath.Join(dir, "missing.sip"))
	out, err = cmd.Output()
	if err == nil {
		t.Fatalf("an unreadable file must give a non-zero exit")
	}
	if !strings.Contains(string(out), `"valid":true`) {
		t.Errorf("readable files are still checked: %q", out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || !strings.Contains(string(ee.Stderr), "missing.sip") {
		t.Errorf("error must name the file: %v", err)
	}
}

// sipbus up on a NATS server of its own (sipbus nats, as an operator runs
// it on a loaded machine, or any NATS with JetStream): the services answer
// SIP as with the embedded server, and the events land in that server's
// stream.
func TestUpOnExternalNATS(t *testing.T) {
	sipPort := testenv.FreePort(t, "udp")
	natsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	natsURL := "nats://" + natsAddr
	ns := start(t, "nats", "--listen", natsAddr, "--data", t.TempDir())
	ns.waitLine(t, "ready", 30*time.Second)
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routes, []byte("routes:\n  - match: {method: OPTIONS}\n    reply: {code: 488}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := start(t, "up", "--sip", fmt.Sprintf("127.0.0.1:%d", sipPort), "--nats", natsURL,
		"--data", t.TempDir(), "--edge-id", "ext", "--routes", routes, "--log-level", "warn")
	if line := up.waitLine(t, "  nats ", 30*time.Second); !strings.Contains(line, natsURL+" (external") {
		t.Errorf("sipbus up prints %q for its NATS server, want %s (external ...)", line, natsURL)
	}
	up.waitLine(t, "ready", 30*time.Second)

	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "OPTIONS sip:127.0.0.1 SIP/2.0\r\n" +
		fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-ext1;rport\r\n", c.LocalAddr().(*net.UDPAddr).Port) +
		"Max-Forwards: 70\r\nFrom: <sip:ext@127.0.0.1>;tag=f1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ext-nats-1\r\n" +
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.WriteToUDP([]byte(req), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sipPort}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no answer to OPTIONS: %v\n%s", err, up.stderrString())
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "SIP/2.0 488 ") {
		t.Fatalf("answer %q, want the route's 488", got)
	}

	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ck := sipmsg.CallKey("ext-nats-1")
	in := bus.SubjectRequestIn("OPTIONS", ck)
	out := ""
	var subjects map[string]uint64
	var stream jetstream.Stream
	for deadline := time.Now().Add(5 * time.Second); out == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if stream, err = js.Stream(context.Background(), bus.DefaultStream); err != nil {
			t.Fatalf("the external server has no stream %s: %v", bus.DefaultStream, err)
		}
		info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter("sip.>"))
		if err != nil {
			t.Fatal(err)
		}
		subjects = info.State.Subjects
		for subj := range subjects {
			if strings.HasPrefix(subj, "sip."+bus.Partition(ck)+".out.") && strings.HasSuffix(subj, ".res.4xx") {
				out = subj
			}
		}
	}
	if subjects[in] == 0 || out == "" {
		t.Fatalf("the external stream holds %v, want the OPTIONS on %s and its 488 on sip.%s.out.*.res.4xx", subjects, in, bus.Partition(ck))
	}
	for _, subj := range []string{in, out} {
		m, err := stream.GetLastMsgForSubject(context.Background(), subj)
		if err != nil {
			t.Fatal(err)
		}
		if got := bus.CallKeyOf(m.Header); got != ck {
			t.Errorf("%s holds an event of call key %q, want %q", subj, got, ck)
		}
	}
}

func TestUsageErrorsNameTheFlag(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--sip", "nonsense"}, "--sip"},
		{[]string{"up", "--tls", "nonsense"}, "--tls"},
		{[]string{"up", "--tls", "0.0.0.0:5061"}, "--tls 0.0.0.0:5061: needs --tls-cert and --tls-key"},
		{[]string{"up", "--tls-cert", "cert.pem"}, "--tls-cert, --tls-key"},
		{[]string{"up", "--ws", "localhost:ws"}, "--ws"},
		{[]string{"up", "--http", "localhost:http"}, "--http: want ip:port or off"},
		{[]string{"edge", "--wss", "192.0.2.1:7443", "--nats", "nats://127.0.0.1:1"}, "tls_cert, tls_key: required for the wss listener on 192.0.2.1:7443"},
		{[]string{"edge", "--udp", "off", "--tcp", "off", "--tls", "off", "--ws", "off", "--wss", "off"}, "every listener is off"},
		{[]string{"up", "--retention", "-1s"}, "--retention"},
		{[]string{"up", "--nats", "nats://127.0.0.1:4222", "--nats-listen", "127.0.0.1:4223"}, "--nats-listen: set for the embedded NATS server, which --nats replaces"},
		{[]string{"up", "--nats", "nats://u:secret@127.0.0.1:1"}, "--nats nats://***@127.0.0.1:1"},
		{[]string{"msg", "check", "--role", "router", "x"}, "--role"},
		{[]string{"tail", "--nats", "nats://127.0.0.1:1"}, "--nats"},
		{[]string{"frobnicate"}, "frobnicate"},
		{[]string{"up", "--debug-addr", "0.0.0.0:6060"}, "--debug-addr"},
		{[]string{"edge", "--debug-addr", "nonsense"}, "debug_addr: want ip:port"},
		{[]string{"edge", "--redis", "redis://127.0.0.1:1"}, "flag provided but not defined: -redis"},
		{[]string{"registrar", "--redis", "redis://127.0.0.1:1"}, `domains: required when auth is "required"`},
		{[]string{"registrar", "--domains", "localhost"}, "redis (--redis, SIPBUS_REDIS_URL): required"},
		{[]string{"registrar", "--domains", "localhost", "--redis", "redis://127.0.0.1:1", "--auth-secret", "0123456789abcdef"}, "flag provided but not defined: -auth-secret"},
		{[]string{"tm", "--redis", "redis://127.0.0.1:1"}, "advertise: required"},
		{[]string{"tm", "--advertise", "127.0.0.1:5060", "--redis", "redis://127.0.0.1:1", "--static", "bob@localhost=sip:bob@127.0.0.1"}, "flag provided but not defined: -static"},
		{[]string{"up", "--auth-fail-per-user", "-1"}, "--auth-fail-per-user: -1"},
		{[]string{"up", "--auth-sha256-domain", "example.net"}, `--auth-sha256-domain: "example.net" is not one of domains`},
		{[]string{"up", "--auth-sha256-ua", "Zoiper ("}, `--auth-sha256-ua: [0] "Zoiper ("`},
		{[]string{"up", "--auth-algorithms", "SHA-1"}, `--auth-algorithms: "SHA-1"`},
		{[]string{"nats", "--listen", "nonsense"}, "--listen"},
		{[]string{"stats", "--nats", "", "--redis", "nonsense://x"}, "--redis"},
		{[]string{"ul", "add", "bob@localhost", "sip:bob@127.0.0.1", "--q", "2", "--nats", "nats://127.0.0.1:1"}, "--q"},
		{[]string{"up", "--flood-allow", "10.0.0.0/33"}, "--flood-allow"},
		{[]string{"up", "--flood-window", "1ms"}, "--flood-window"},
		{[]string{"edge", "--flood-limit", "0", "--nats", "nats://127.0.0.1:1"}, "flood_limit: 0 must be positive"},
		{[]string{"tm", "--resolver", "dns.example.com", "--advertise", "127.0.0.1:5060", "--redis", "redis://127.0.0.1:1"}, `resolver: "dns.example.com": want an IP address or ip:port`},
	}
	for _, c := range cases {
		cmd := exec.Command(sipbusBinary(t), c.args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v: exit 0, want an error", c.args)
			continue
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%v: error %q does not name %s", c.args, out, c.want)
		}
	}
}
