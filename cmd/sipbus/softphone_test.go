package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// This file drives real softphones against `sipbus up` started with its
// default flags: baresip (Debian baresip-core) headless through its
// ctrl_tcp socket, and sipsak. Everything runs on 127.0.0.1; every process
// is stopped by its PID when the test ends.

// peerPath finds a SIP peer program; the test fails, saying how to install
// it, when it is missing.
func peerPath(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (.ci/run does)", bin, pkg)
	}
	return p
}

// baresipModules is where Debian's baresip-core keeps its modules.
const baresipModules = "/usr/lib/baresip/modules"

// baresip is one baresip process, driven over ctrl_tcp (netstring-framed
// JSON commands; responses and events come back the same way).
type baresip struct {
	t      *testing.T
	name   string
	dir    string
	sip    string // its SIP address, 127.0.0.1:port
	cmd    *exec.Cmd
	conn   net.Conn
	events chan map[string]any
	resps  chan map[string]any
	token  int
}

// readmeAccount returns the baresip accounts line of user from the README's
// "Call with a softphone" section, so the test uses what the README tells
// people to write (with the SIP address of this test's sipbus).
func readmeAccount(t *testing.T, user, sipAddr string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Call with a softphone")
	if !ok {
		t.Fatal(`README.md has no "## Call with a softphone" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for line := range strings.Lines(section) {
		if _, acc, ok := strings.Cut(line, "echo '<sip:"+user+"@"); ok {
			acc, _, _ = strings.Cut("<sip:"+user+"@"+acc, "' >")
			return strings.ReplaceAll(acc, "127.0.0.1:5060", sipAddr)
		}
	}
	t.Fatalf("README's softphone section has no accounts line for %s", user)
	return ""
}

// startBaresip runs baresip with account (an accounts line) and contacts
// (the first one is where its message command sends), headless: no
// terminal, audio through the aubridge module (no sound card), SIP and
// RTP on 127.0.0.1.
func startBaresip(t *testing.T, name, account string, contacts ...string) *baresip {
	t.Helper()
	bin := peerPath(t, "baresip", "baresip-core")
	if _, err := os.Stat(filepath.Join(baresipModules, "ctrl_tcp.so")); err != nil {
		t.Fatalf("baresip's modules are not in %s: install the Debian package baresip-core: %v", baresipModules, err)
	}
	dir := t.TempDir()
	sipPort := freeSIPPort(t)
	ctrl := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	config := strings.Join([]string{
		"poll_method epoll",
		fmt.Sprintf("sip_listen 127.0.0.1:%d", sipPort),
		"net_interface 127.0.0.1",
		// No resolver is needed (the outbound proxy is an address); one
		// on loopback keeps anything that asks off the network.
		"dns_server 127.0.0.1:53",
		"module_path " + baresipModules,
		"module g711.so",
		"module aubridge.so",
		"module_tmp account.so",
		"module_app menu.so",
		"module_app contact.so",
		"module_app ctrl_tcp.so",
		"ctrl_tcp_listen " + ctrl,
		"audio_player aubridge," + name,
		"audio_source aubridge," + name,
		"audio_alert aubridge," + name,
		"",
	}, "\n")
	for file, data := range map[string]string{"config": config, "accounts": account + "\n", "contacts": strings.Join(contacts, "\n") + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "output.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start baresip %s: %v", name, err)
	}
	b := &baresip{t: t, name: name, dir: dir, sip: fmt.Sprintf("127.0.0.1:%d", sipPort), cmd: cmd,
		events: make(chan map[string]any, 256), resps: make(chan map[string]any, 16)}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if b.conn != nil {
			_ = b.conn.Close()
		}
		_ = cmd.Process.Signal(os.Interrupt) // it unregisters, then exits
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = out.Close()
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", name, b.output())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ctrl, time.Second)
		if err == nil {
			b.conn = c
			break
		}
		select {
		case <-done:
			t.Fatalf("baresip %s exited at start:\n%s", name, b.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s: ctrl_tcp %s does not answer: %v\n%s", name, ctrl, err, b.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	go b.read()
	return b
}

func (b *baresip) output() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "output.txt"))
	s := string(data)
	if len(s) > 6000 {
		s = s[len(s)-6000:]
	}
	return s
}

// freeSIPPort returns a loopback port free for UDP and TCP whose next port
// is free for TCP too (baresip listens for TLS there).
func freeSIPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := testenv.FreePort(t, "udp")
		ok := true
		for _, port := range []int{p, p + 1} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				ok = false
				break
			}
			_ = l.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free port pair for baresip")
	return 0
}

// read splits the ctrl_tcp stream (netstrings: length ":" JSON ",") into
// responses and events.
func (b *baresip) read() {
	r := bufio.NewReader(b.conn)
	for {
		n, err := r.ReadString(':')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(n, ":")))
		if err != nil || size < 0 || size > 1<<20 {
			return
		}
		buf := make([]byte, size+1) // the JSON and the ','
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(buf[:size], &m) != nil {
			continue
		}
		switch {
		case m["response"] == true:
			b.resps <- m
		case m["event"] == true:
			select {
			case b.events <- m:
			default: // nobody waits for these many
			}
		}
	}
}

// command runs a baresip command (as typed after '/') and returns its
// response data; a command baresip refuses fails the test.
func (b *baresip) command(cmd, params string) string {
	b.t.Helper()
	b.token++
	token := strconv.Itoa(b.token)
	req, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": token})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(req), req); err != nil {
		b.t.Fatalf("baresip %s: %s: %v", b.name, cmd, err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-b.resps:
			if r["token"] != token {
				continue
			}
			if r["ok"] != true {
				b.t.Fatalf("baresip %s refused /%s %s: %v", b.name, cmd, params, r["data"])
			}
			s, _ := r["data"].(string)
			return s
		case <-timeout:
			b.t.Fatalf("baresip %s: no response to /%s within 10s\n%s", b.name, cmd, b.output())
		}
	}
}

// waitEvent returns the next ctrl_tcp event of type typ (others are
// skipped), failing the test after d.
func (b *baresip) waitEvent(typ string, d time.Duration) map[string]any {
	b.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-b.events:
			if ev["type"] == typ {
				return ev
			}
		case <-timeout:
			b.t.Fatalf("baresip %s: no %s event within %v\n%s", b.name, typ, d, b.output())
			return nil
		}
	}
}

// busLog records what sipbus publishes: SIP messages (sip.>), binding
// events (reg.>) and call events (call.>), for tests to wait on.
type busLog struct {
	t    *testing.T
	mu   sync.Mutex
	cond *sync.Cond
	sip  []*events.SIP
	evs  []*bus.Event
}

func watchBus(t *testing.T, natsURL string) *busLog {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &busLog{t: t}
	l.cond = sync.NewCond(&l.mu)
	if _, err := nc.Subscribe("sip.>", func(m *nats.Msg) {
		if s, err := events.DecodeSIP(m); err == nil {
			l.mu.Lock()
			l.sip = append(l.sip, s)
			l.mu.Unlock()
			l.cond.Broadcast()
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{"reg.>", "call.>"} {
		if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
			ev, err := bus.Decode(m)
			if err != nil {
				t.Errorf("not a CloudEvent on %s: %v", m.Subject, err)
				return
			}
			if err := events.Validate(ev); err != nil {
				t.Errorf("event %s does not validate: %v", ev.Type, err)
			}
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
			l.cond.Broadcast()
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

// waitSIP returns the first SIP message event (from the start of the log)
// that match accepts, failing the test after d.
func (l *busLog) waitSIP(d time.Duration, what string, match func(s *events.SIP, m *sipmsg.Msg) bool) *sipmsg.Msg {
	l.t.Helper()
	var found *sipmsg.Msg
	l.wait(d, what, func() bool {
		for _, s := range l.sip {
			framing := sipmsg.Datagram
			if s.Transport == "tcp" {
				framing = sipmsg.Stream
			}
			if m, err := sipmsg.Parse(s.Raw, framing); err == nil && match(s, m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// waitEvent returns the data of the first event of type typ whose data
// accept takes, failing the test after d.
func (l *busLog) waitEvent(d time.Duration, typ string, accept func(data []byte) bool) []byte {
	l.t.Helper()
	var found []byte
	l.wait(d, typ, func() bool {
		for _, ev := range l.evs {
			if ev.Type == typ && accept(ev.Data) {
				found = ev.Data
				return true
			}
		}
		return false
	})
	return found
}

func (l *busLog) wait(d time.Duration, what string, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, l.cond.Broadcast)
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("sipbus did not publish %s within %v", what, d)
		}
		l.cond.Wait()
	}
}

// sentTo reports a message sipbus sent to addr (ip:port over UDP).
func sentTo(s *events.SIP, addr string) bool {
	return s.Type == events.TypeMessageSent && s.Dest == "udp:"+addr
}

func cseqMethod(m *sipmsg.Msg) string {
	cs, _ := m.CSeq()
	return cs.Method
}

// TestSoftphones: `sipbus up` with no auth flags (digest required, its
// default challenge) serves the clients people have: two baresip phones
// and sipsak register with digest; alice calls bob, bob answers on his
// own, alice hangs up (BYE); alice and bob exchange MESSAGE, and sipsak
// sends bob one. Each step is asserted on what sipbus says: its replies
// and events on the bus, and `sipbus ul show`.
func TestSoftphones(t *testing.T) {
	sipsak := peerPath(t, "sipsak", "sipsak")
	s := startUp(t)
	log := watchBus(t, s.nats)
	for _, u := range []string{"alice", "bob", "carol"} {
		cli(t, s.nats, "user", "add", u+"@localhost", "--password", u+"-secret")
	}
	alice := startBaresip(t, "alice", readmeAccount(t, "alice", s.sip), "<sip:bob@localhost>")
	bob := startBaresip(t, "bob", readmeAccount(t, "bob", s.sip), "<sip:alice@localhost>")

	// Both register with digest: a 401 with one challenge (MD5), then 200,
	// and the binding is the phone's address.
	for _, p := range []*baresip{alice, bob} {
		ch := log.waitSIP(10*time.Second, p.name+"'s 401", func(s *events.SIP, m *sipmsg.Msg) bool {
			return sentTo(s, p.sip) && m.StatusCode == 401 && cseqMethod(m) == "REGISTER"
		})
		if chs := ch.Values(sipmsg.HWWWAuthenticate); len(chs) != 1 || !strings.Contains(chs[0], "algorithm=MD5") || !strings.Contains(chs[0], `qop="auth"`) {
			t.Errorf("%s was challenged with %q, want one MD5 challenge", p.name, chs)
		}
		log.waitSIP(10*time.Second, p.name+"'s 200 to REGISTER", func(s *events.SIP, m *sipmsg.Msg) bool {
			return sentTo(s, p.sip) && m.StatusCode == 200 && cseqMethod(m) == "REGISTER"
		})
		var show regapi.AORBindings
		if err := json.Unmarshal([]byte(cli(t, s.nats, "ul", "show", p.name+"@localhost", "--json")), &show); err != nil {
			t.Fatal(err)
		}
		if len(show.Bindings) != 1 || !strings.Contains(show.Bindings[0].Contact, "@"+p.sip) {
			t.Errorf("ul show %s: %+v, want one binding at %s", p.name, show, p.sip)
		}
	}

	// sipsak registers carol (it answers the first challenge, whatever
	// its algorithm: it needs the default).
	out, err := exec.Command(sipsak, "-U", "-s", "sip:carol@localhost", "-u", "carol", "-a", "carol-secret", "-x", "600",
		"-H", "127.0.0.1", "-p", s.sip, "-i").CombinedOutput()
	if err != nil {
		t.Fatalf("sipsak register: %v\n%s", err, out)
	}
	var carol regapi.AORBindings
	if err := json.Unmarshal([]byte(cli(t, s.nats, "ul", "show", "carol@localhost", "--json")), &carol); err != nil || len(carol.Bindings) != 1 {
		t.Fatalf("ul show carol after sipsak registered: %+v, %v", carol, err)
	}

	// alice calls bob, bob answers by himself, alice hangs up.
	alice.command("dial", "sip:bob@localhost")
	alice.waitEvent("CALL_ESTABLISHED", 15*time.Second)
	bob.waitEvent("CALL_ESTABLISHED", 5*time.Second)
	var answered events.CallAnswered
	_ = json.Unmarshal(log.waitEvent(10*time.Second, events.TypeCallAnswered, func(data []byte) bool {
		return strings.Contains(string(data), "sip:alice@localhost")
	}), &answered)
	if answered.Callee.URI != "sip:bob@localhost" || !strings.Contains(answered.Contact, "@"+bob.sip) {
		t.Errorf("call.answered %+v, want bob answering at %s", answered, bob.sip)
	}
	alice.command("hangup", "")
	var ended events.CallEnded
	_ = json.Unmarshal(log.waitEvent(10*time.Second, events.TypeCallEnded, func(data []byte) bool {
		return strings.Contains(string(data), answered.CallID)
	}), &ended)
	if ended.HangupBy != events.HangupCaller || ended.Reason != "bye" {
		t.Errorf("call.ended %+v, want hung up by the caller with BYE", ended)
	}
	bob.waitEvent("CALL_CLOSED", 10*time.Second)
	log.waitSIP(5*time.Second, "bob's 200 to the BYE, relayed to alice", func(s *events.SIP, m *sipmsg.Msg) bool {
		return sentTo(s, alice.sip) && m.StatusCode == 200 && cseqMethod(m) == "BYE" && m.CallID() == answered.CallID
	})

	// MESSAGE both ways: relayed to the registered contact, and its 200
	// relayed back to the sender.
	for _, m := range []struct {
		from, to *baresip
		text     string
	}{{alice, bob, "hello bob"}, {bob, alice, "hello alice"}} {
		m.from.command("message", m.text)
		req := log.waitSIP(10*time.Second, "MESSAGE to "+m.to.name, func(s *events.SIP, msg *sipmsg.Msg) bool {
			return sentTo(s, m.to.sip) && msg.Request && msg.MethodID == sipmsg.MESSAGE && strings.Contains(string(msg.Raw), m.text)
		})
		log.waitSIP(10*time.Second, "the 200 to "+m.from.name+"'s MESSAGE", func(s *events.SIP, msg *sipmsg.Msg) bool {
			return sentTo(s, m.from.sip) && msg.StatusCode == 200 && cseqMethod(msg) == "MESSAGE" && msg.CallID() == req.CallID()
		})
	}

	// sipsak sends bob a MESSAGE (its -M mode crashes in Debian's 0.9.8.1,
	// so the request comes from a file, which sipsak sends and waits for
	// the final answer of: exit 0 means 200).
	msgFile := filepath.Join(t.TempDir(), "message.sip")
	const text = "hello from sipsak"
	raw := "MESSAGE sip:bob@localhost SIP/2.0\r\nFrom: <sip:carol@localhost>;tag=sk1\r\nTo: <sip:bob@localhost>\r\n" +
		"Call-ID: sipsak-message-1@127.0.0.1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: text/plain\r\n" +
		"Content-Length: " + strconv.Itoa(len(text)) + "\r\n\r\n" + text
	if err := os.WriteFile(msgFile, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sipsak, "-f", msgFile, "-s", "sip:bob@localhost", "-H", "127.0.0.1", "-p", s.sip).CombinedOutput(); err != nil {
		t.Fatalf("sipsak MESSAGE: %v\n%s", err, out)
	}
	log.waitSIP(5*time.Second, "bob's 200 to sipsak's MESSAGE", func(s *events.SIP, m *sipmsg.Msg) bool {
		return s.Type == events.TypeResponseReceived && s.Remote == bob.sip && m.StatusCode == 200 && m.CallID() == "sipsak-message-1@127.0.0.1"
	})
}
