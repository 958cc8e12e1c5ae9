package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// notifierConfig writes a notifier config file for tests: short retries,
// a short SMTP timeout and lease, and extra YAML.
func notifierConfig(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notifier.yaml")
	body := `from: "sipbus <sipbus@example.net>"
smtp_timeout: 3s
lease: 13s
ack_wait: 2s
backoff: [200ms, 500ms, 1s, 2s]
max_deliver: 100
digest_poll: 200ms
` + extra
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mailsTo returns the mails Mailpit holds for address.
func mailsTo(t *testing.T, mp *testenv.Mailpit, address string) []testenv.Message {
	var out []testenv.Message
	for _, m := range mp.Messages(t) {
		for _, to := range m.To {
			if to.Address == address {
				out = append(out, m)
			}
		}
	}
	return out
}

// TestMissedCallMail: calls through `sipbus up` with SIPp as caller and
// callees. A call to an offline user, one to a busy user (486), one not
// answered (timer C), one the caller cancels and one the callee declines
// (603) each give exactly one mail with the reason in words; a forked call
// (two bindings, both busy) gives one; a user without an e-mail address
// and one who opted out (`sipbus user set --missed-call-email off`) get
// none.
func TestMissedCallMail(t *testing.T) {
	sippPath(t)
	mp := testenv.StartMailpit(t)
	ports := map[string]int{}
	for _, n := range []string{"busy", "noans", "cancel", "decline", "forka", "forkb", "uac"} {
		ports[n] = testenv.FreePort(t, "udp")
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	s := startUp(t, "--no-answer", "2s", "--smtp", "smtp://"+mp.SMTP+"?tls=none", "--notifier-config", notifierConfig(t, ""), "--http", httpAddr)
	for _, u := range []string{"off", "busy", "noans", "cancel", "decline", "fork", "optout"} {
		cli(t, s.nats, "user", "add", u+"@localhost", "--password", "pw-"+u+"-secret", "--email", u+"@example.com", "--tz", "America/New_York")
	}
	cli(t, s.nats, "user", "add", "noemail@localhost", "--password", "pw-noemail")
	if out := cli(t, s.nats, "user", "set", "optout@localhost", "--missed-call-email", "off"); !strings.Contains(out, "ok: user set") {
		t.Fatalf("user set: %s", out)
	}
	if out := cli(t, s.nats, "user", "list"); !regexp.MustCompile(`optout@localhost\s+optout@example.com\s+true\s+off\s+America/New_York`).MatchString(out) {
		t.Errorf("user list:\n%s", out)
	}
	bind := func(user, port string) {
		cli(t, s.nats, "ul", "add", user+"@localhost", fmt.Sprintf("sip:%s@127.0.0.1:%d", user, ports[port]), "--expires", "0")
	}
	bind("busy", "busy")
	bind("noans", "noans")
	bind("cancel", "cancel")
	bind("decline", "decline")
	bind("fork", "forka")
	bind("fork", "forkb")

	uac := func(scenario, callee string) *sipp {
		return runSIPp(t, "uac "+scenario+" "+callee, scenario, s.sip, "-p", strconv.Itoa(ports["uac"]), "-s", callee,
			"-key", "domain", "localhost", "-m", "1", "-cid_str", scenario+"-%u-%p@[local_ip]")
	}
	uas := func(scenario, port string) *sipp {
		return runSIPp(t, "uas "+scenario+" "+port, scenario, "-p", strconv.Itoa(ports[port]))
	}
	calls := []struct {
		name, callee, uac, uas, port, words string
	}{
		{"offline", "off", "uac_480.xml", "", "", "was offline"},
		{"busy 486", "busy", "uac_486.xml", "uas_busy.xml", "busy", "was busy"},
		{"timer C", "noans", "uac_408.xml", "uas_cancel.xml", "noans", "did not answer"},
		{"caller cancels", "cancel", "uac_cancel.xml", "uas_cancel.xml", "cancel", "caller hung up"},
		{"declined 603", "decline", "uac_603.xml", "uas_decline.xml", "decline", "declined"},
		{"no e-mail", "noemail", "uac_480.xml", "", "", ""},
		{"opted out", "optout", "uac_480.xml", "", "", ""},
	}
	for _, c := range calls {
		var callee *sipp
		if c.uas != "" {
			callee = uas(c.uas, c.port)
		}
		uac(c.uac, c.callee).wait(t, 30*time.Second)
		if callee != nil {
			callee.stopClean(t)
		}
	}
	// The forked call: both branches busy, one call.missed, one mail.
	a, b := uas("uas_busy.xml", "forka"), uas("uas_busy.xml", "forkb")
	uac("uac_486.xml", "fork").wait(t, 30*time.Second)
	a.stopClean(t)
	b.stopClean(t)

	testenv.Eventually(t, 30*time.Second, func() bool { return len(mp.Messages(t)) >= 6 }, "6 mails; mailpit has %d; stderr:\n%s",
		len(mp.Messages(t)), s.p.stderrString())
	time.Sleep(2 * time.Second) // anything more would arrive now
	for _, c := range calls {
		got := mailsTo(t, mp, c.callee+"@example.com")
		if c.words == "" {
			if len(got) != 0 {
				t.Errorf("%s: %d mails, want none", c.name, len(got))
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: %d mails, want 1", c.name, len(got))
			continue
		}
		if want := "Missed call from sip:caller@localhost (" + c.words + ")"; got[0].Subject != want {
			t.Errorf("%s: subject %q, want %q", c.name, got[0].Subject, want)
		}
		if text := mp.Message(t, got[0].ID).Text; !strings.Contains(text, "(America/New_York)") {
			t.Errorf("%s: the time is not in the callee's zone:\n%s", c.name, text)
		}
	}
	if got := mailsTo(t, mp, "fork@example.com"); len(got) != 1 || !strings.HasSuffix(got[0].Subject, "(was busy)") {
		t.Errorf("forked call: %d mails %+v, want one (was busy)", len(got), got)
	}
	if n := len(mp.Messages(t)); n != 6 {
		t.Errorf("%d mails in all, want 6", n)
	}
	// The notifier's counters on `sipbus up`'s /metrics.
	m := scrape(t, "http://"+httpAddr)
	for k, v := range map[string]float64{"sipbus_notifier_mails_sent_total": 6, "sipbus_notifier_mails_failed_total": 0} {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (exported: %v), want %v; the notifier's log:\n%s", k, got, ok, v, grepLines(s.p.stderrString(), "notifier:"))
		}
	}
}

// TestMissedCallHostileNames: SIPp calls whose From display names are what
// a hostile peer sends: a CRLF fold carrying Bcc:, Bcc: as text, encoded
// words, 8-bit bytes, 10 kB, HTML. Each gives one mail to the callee alone,
// with no header the plain mail lacks (the raw message as Mailpit received
// it), and the HTML part escaped.
func TestMissedCallHostileNames(t *testing.T) {
	sippPath(t)
	mp := testenv.StartMailpit(t)
	s := startUp(t, "--smtp", "smtp://"+mp.SMTP+"?tls=none", "--notifier-config", notifierConfig(t, "rate_limit: 0\n"))
	cli(t, s.nats, "user", "add", "bob@localhost", "--password", "bob-secret", "--email", "bob@example.com")
	uacPort := testenv.FreePort(t, "udp")
	call := func(t *testing.T, name string) {
		t.Helper()
		runSIPp(t, "uac named", "uac_named.xml", s.sip, "-p", strconv.Itoa(uacPort), "-s", "bob", "-key", "domain", "localhost",
			"-key", "caller_name", name, "-m", "1").wait(t, 30*time.Second)
	}
	call(t, `"Plain Caller"`)
	testenv.Eventually(t, 20*time.Second, func() bool { return len(mp.Messages(t)) == 1 }, "the plain mail; stderr:\n%s", s.p.stderrString())
	plain := mp.Messages(t)[0]
	wantNames := headerNames(t, mp.Raw(t, plain.ID))

	names := []struct{ name, wire string }{
		{"CRLF fold with Bcc", "\"Eve\r\n Bcc: mallory@evil.example\r\n\tX-Injected: yes\""},
		{"Bcc as text", `"Bcc: mallory@evil.example"`},
		{"encoded word", `"=?utf-8?q?Eve=0D=0ABcc:_mallory@evil.example?="`},
		{"8-bit bytes", "\"Ev\xe9 M\xfcller \xff\""},
		{"10 kB", `"` + strings.Repeat("N", 10240) + `"`},
		{"HTML", `"<script>alert(1)</script>"`},
	}
	for i, n := range names {
		t.Run(n.name, func(t *testing.T) {
			call(t, n.wire)
			testenv.Eventually(t, 20*time.Second, func() bool { return len(mp.Messages(t)) == i+2 }, "mail %d; stderr:\n%s", i+2, s.p.stderrString())
			m := mp.Messages(t)[0] // newest first
			if len(m.To) != 1 || m.To[0].Address != "bob@example.com" || len(m.Cc)+len(m.Bcc) != 0 {
				t.Errorf("recipients To %v Cc %v Bcc %v", m.To, m.Cc, m.Bcc)
			}
			raw := mp.Raw(t, m.ID)
			if got := headerNames(t, raw); !slices.Equal(got, wantNames) {
				t.Errorf("header fields %v, want %v", got, wantNames)
			}
			for _, line := range strings.Split(string(raw), "\r\n") {
				if strings.HasPrefix(strings.ToLower(line), "bcc:") {
					t.Errorf("raw line %q", line)
				}
			}
			if html := mp.Message(t, m.ID).HTML; strings.Contains(html, "<script>") {
				t.Errorf("HTML part not escaped:\n%s", html)
			}
			if strings.ContainsAny(m.Subject, "\r\n") || len([]rune(m.Subject)) > 160 {
				t.Errorf("subject %q", m.Subject)
			}
		})
	}
}

// headerNames are the lower-case names of a raw message's header fields,
// sorted.
func headerNames(t *testing.T, raw []byte) []string {
	t.Helper()
	head, _, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok {
		t.Fatalf("no header block:\n%s", raw)
	}
	var names []string
	for _, line := range strings.Split(head, "\r\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		names = append(names, strings.ToLower(name))
	}
	slices.Sort(names)
	return names
}

// consumerIdle reports whether the notifier's durable consumer has
// nothing pending and nothing unacknowledged.
func consumerIdle(t *testing.T, natsURL string) bool {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := testenv.Context(t, 5*time.Second)
	c, err := js.Consumer(ctx, bus.DefaultStream, "notifier-missed-call-mail")
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}

// republishMissed publishes every call.missed event of the stream again
// under a new Nats-Msg-Id (so the stream stores it): the notifier's
// consumer delivers each a second time, as after a replay or from a second
// producer.
func republishMissed(t *testing.T, natsURL string) int {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := testenv.Context(t, 20*time.Second)
	cons, err := js.OrderedConsumer(ctx, bus.DefaultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"call.missed.*"}})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*nats.Msg
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			break
		}
		msgs = append(msgs, &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
	}
	for i, m := range msgs {
		h := nats.Header{}
		for k, v := range m.Header {
			h[k] = v
		}
		h.Set(nats.MsgIdHdr, fmt.Sprint("again-", i, "-", time.Now().UnixNano()))
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: m.Subject, Header: h, Data: m.Data}); err != nil {
			t.Fatal(err)
		}
	}
	return len(msgs)
}

// uniqueMessageIDs fails unless every mail has its own Message-ID, and
// returns how many there are.
func uniqueMessageIDs(t *testing.T, mp *testenv.Mailpit) int {
	t.Helper()
	seen := map[string]int{}
	for _, m := range mp.Messages(t) {
		seen[m.MessageID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("Message-ID %s: %d mails", id, n)
		}
	}
	return len(seen)
}

// TestNotifierReplicas: two `sipbus notifier` processes share the durable
// consumer and the fences in Redis: 20 missed calls give 20 mails, each
// once; every event delivered a second time gives none.
func TestNotifierReplicas(t *testing.T) {
	sippPath(t)
	mp := testenv.StartMailpit(t)
	redisURL := testenv.RedisURL(t)
	s := startUp(t, "--redis", redisURL)
	cfg := notifierConfig(t, "rate_limit: 0\n") // 20 calls to one callee
	for _, id := range []string{"n1", "n2"} {
		n := start(t, "notifier", "--nats", s.nats, "--redis", redisURL, "--smtp", "smtp://"+mp.SMTP+"?tls=none",
			"--config", cfg, "--id", id, "--log-level", "warn")
		if l := n.waitLine(t, "ready", 30*time.Second); !strings.Contains(strings.Join(n.seen, "\n"), "notifier "+id+": smtp smtp://"+mp.SMTP+"?tls=none (no TLS)") {
			t.Errorf("banner %q", strings.Join(append(n.seen, l), "\n"))
		}
	}
	cli(t, s.nats, "user", "add", "rep@localhost", "--password", "rep-secret", "--email", "rep@example.com")
	runSIPp(t, "uac 480", "uac_480.xml", s.sip, "-p", strconv.Itoa(testenv.FreePort(t, "udp")), "-s", "rep",
		"-key", "domain", "localhost", "-m", "20", "-r", "20").wait(t, 60*time.Second)
	testenv.Eventually(t, 30*time.Second, func() bool { return len(mp.Messages(t)) >= 20 }, "20 mails, got %d", len(mp.Messages(t)))
	testenv.Eventually(t, 20*time.Second, func() bool { return consumerIdle(t, s.nats) }, "the consumer acknowledged everything")
	if n := republishMissed(t, s.nats); n != 20 {
		t.Fatalf("republished %d call.missed events, want 20", n)
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return consumerIdle(t, s.nats) }, "the consumer acknowledged the second deliveries")
	time.Sleep(time.Second)
	if n := uniqueMessageIDs(t, mp); n != 20 || len(mp.Messages(t)) != 20 {
		t.Errorf("%d mails with %d Message-IDs, want 20 and 20", len(mp.Messages(t)), n)
	}
}

// killingProxy relays SMTP to a server; the first time the server accepts
// a message (its 250 after the DATA's final dot) it SIGKILLs victim
// before the notifier sees that reply: the mail is delivered, the notifier
// never learns it, and its fence stays "sending".
type killingProxy struct {
	addr   string
	ln     net.Listener
	mu     sync.Mutex
	victim *proc
	killed chan struct{}
}

func newKillingProxy(t *testing.T, server string) *killingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &killingProxy{addr: ln.Addr().String(), ln: ln, killed: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(c, server)
		}
	}()
	return p
}

func (p *killingProxy) relay(client net.Conn, server string) {
	defer client.Close()
	up, err := net.Dial("tcp", server)
	if err != nil {
		return
	}
	defer up.Close()
	var dataDone atomic.Bool
	go func() { // client -> server, watching for the end of DATA
		buf, tail := make([]byte, 32<<10), []byte{}
		for {
			n, err := client.Read(buf)
			if n > 0 {
				tail = append(tail, buf[:n]...)
				if bytes.Contains(tail, []byte("\r\n.\r\n")) {
					dataDone.Store(true)
				}
				if len(tail) > 8 {
					tail = tail[len(tail)-8:]
				}
				if _, err := up.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				_ = up.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if dataDone.Load() && bytes.HasPrefix(buf[:n], []byte("250")) && p.kill() {
				return // the accepted mail's reply never reaches the notifier
			}
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// kill kills the victim once (by its PID) and waits for it to be gone.
func (p *killingProxy) kill() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.victim == nil {
		return false
	}
	_ = p.victim.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = p.victim.cmd.Process.Wait()
	p.victim = nil
	close(p.killed)
	return true
}

// TestNotifierKilledAfterData: a notifier is SIGKILLed after the SMTP
// server accepted the mail (after DATA) and before it recorded that and
// acknowledged the event. A second notifier finds the fence held, waits
// for the dead one's lease, and sends the mail again with the same
// Message-ID: one mail, or two with the same Message-ID (the documented
// window), never another.
func TestNotifierKilledAfterData(t *testing.T) {
	sippPath(t)
	mp := testenv.StartMailpit(t)
	redisURL := testenv.RedisURL(t)
	s := startUp(t, "--redis", redisURL)
	proxy := newKillingProxy(t, mp.SMTP)
	cfg := notifierConfig(t, "")
	notifierProc := func(id string) *proc {
		n := start(t, "notifier", "--nats", s.nats, "--redis", redisURL, "--smtp", "smtp://"+proxy.addr+"?tls=none",
			"--config", cfg, "--id", id, "--log-level", "warn")
		n.waitLine(t, "ready", 30*time.Second)
		return n
	}
	proxy.mu.Lock()
	proxy.victim = notifierProc("doomed")
	proxy.mu.Unlock()
	cli(t, s.nats, "user", "add", "kill@localhost", "--password", "kill-secret", "--email", "kill@example.com")
	runSIPp(t, "uac 480", "uac_480.xml", s.sip, "-p", strconv.Itoa(testenv.FreePort(t, "udp")), "-s", "kill",
		"-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	select {
	case <-proxy.killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the notifier never sent the mail")
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return len(mp.Messages(t)) == 1 }, "the mail the dead notifier sent")
	first := mp.Messages(t)[0].MessageID
	notifierProc("survivor")
	// The lease (13s) ends, the event comes back, the survivor sends.
	testenv.Eventually(t, 60*time.Second, func() bool { return consumerIdle(t, s.nats) && len(mp.Messages(t)) >= 1 },
		"the survivor finished the event")
	time.Sleep(2 * time.Second)
	msgs := mp.Messages(t)
	if len(msgs) < 1 || len(msgs) > 2 {
		t.Fatalf("%d mails, want 1 or 2", len(msgs))
	}
	for _, m := range msgs {
		if m.MessageID != first || len(m.To) != 1 || m.To[0].Address != "kill@example.com" {
			t.Errorf("mail %+v: want Message-ID %s to kill@example.com", m, first)
		}
	}
	t.Logf("%d mail(s) with Message-ID %s", len(msgs), first)
}

// TestSMTPOutageAndDeadLetter: the mail server is down for 30 s while
// five calls are missed: when it is back every mail arrives, none twice.
// Then the server refuses a recipient for good (550): the notification
// goes to the dead-letter list (`sipbus notifier failed`), and `sipbus
// notifier retry ID` sends it once the server takes it.
func TestSMTPOutageAndDeadLetter(t *testing.T) {
	sippPath(t)
	mp := testenv.StartMailpit(t)
	s := startUp(t, "--smtp", "smtp://"+mp.SMTP+"?tls=none", "--notifier-config", notifierConfig(t, ""), "--log-level", "info")
	cli(t, s.nats, "user", "add", "down@localhost", "--password", "down-secret", "--email", "down@example.com")
	uacPort := strconv.Itoa(testenv.FreePort(t, "udp"))

	mp.Stop()
	runSIPp(t, "uac 480", "uac_480.xml", s.sip, "-p", uacPort, "-s", "down", "-key", "domain", "localhost",
		"-m", "5", "-r", "10").wait(t, 30*time.Second)
	down := time.Now()
	testenv.Eventually(t, 10*time.Second, func() bool { return strings.Count(s.p.stderrString(), "will retry") >= 5 },
		"the notifier retries; stderr:\n%s", s.p.stderrString())
	time.Sleep(30*time.Second - time.Since(down))
	mp.Start()
	testenv.Eventually(t, 30*time.Second, func() bool { return len(mp.Messages(t)) >= 5 }, "5 mails after the outage, got %d", len(mp.Messages(t)))
	testenv.Eventually(t, 20*time.Second, func() bool { return consumerIdle(t, s.nats) }, "every event acknowledged")
	time.Sleep(time.Second)
	if n := uniqueMessageIDs(t, mp); n != 5 || len(mp.Messages(t)) != 5 {
		t.Fatalf("%d mails with %d Message-IDs after the outage, want 5 and 5", len(mp.Messages(t)), n)
	}
	if out := cli(t, s.nats, "notifier", "failed"); strings.Count(out, "\n") != 1 {
		t.Errorf("notifier failed after the outage lists:\n%s", out)
	}

	mp.DeleteAll(t)
	mp.SetChaos(t, testenv.Chaos{Recipient: testenv.ChaosTrigger{ErrorCode: 550, Probability: 100}})
	runSIPp(t, "uac 480", "uac_480.xml", s.sip, "-p", uacPort, "-s", "down", "-key", "domain", "localhost",
		"-m", "1").wait(t, 30*time.Second)
	var id string
	testenv.Eventually(t, 20*time.Second, func() bool {
		lines := strings.Split(strings.TrimSpace(cli(t, s.nats, "notifier", "failed")), "\n")
		if len(lines) != 2 {
			return false
		}
		id = strings.Fields(lines[1])[0]
		return strings.Contains(lines[1], "mail") && strings.Contains(lines[1], "down@example.com") && strings.Contains(lines[1], "550")
	}, "the 550 in `sipbus notifier failed`")
	mp.SetChaos(t, testenv.Chaos{})
	out := cli(t, s.nats, "notifier", "retry", id)
	if !strings.HasPrefix(out, "ok: "+id+" sent, Message-ID <mail.call.terminal.") {
		t.Fatalf("notifier retry: %q", out)
	}
	msgs := mp.Messages(t)
	if len(msgs) != 1 || !strings.Contains(out, msgs[0].MessageID) {
		t.Fatalf("after retry: %+v", msgs)
	}
	if out := cli(t, s.nats, "notifier", "failed"); strings.Count(out, "\n") != 1 {
		t.Errorf("notifier failed after the retry lists:\n%s", out)
	}
	_, stderr, code := cliExit(t, s.nats, "notifier", "retry", id)
	if code != 1 || !strings.Contains(stderr, "409 already sent since") {
		t.Errorf("second retry: exit %d, %s", code, stderr)
	}
	_, stderr, code = cliExit(t, s.nats, "notifier", "retry")
	if code != 2 || !strings.Contains(stderr, "want one failure id") {
		t.Errorf("retry without an id: exit %d, %s", code, stderr)
	}
}

// TestExecRule: `sipbus up` with an exec rule that runs the seed's
// missed-call script (examples/missed-call) on call.missed: SIPp calls an
// offline user, the script gets the SIP_* variables and mails the callee
// through sendmail (Mailpit's). A caller name with $(...), backquotes and
// ';' only appears as text. A second rule's program sleeps past its
// timeout and is killed.
func TestExecRule(t *testing.T) {
	sippPath(t)
	mp := testenv.StartMailpit(t)
	dir := t.TempDir()
	script, err := filepath.Abs("../../examples/missed-call/missed-call.sh")
	if err != nil {
		t.Fatal(err)
	}
	sendmail := filepath.Join(dir, "sendmail")
	if err := os.WriteFile(sendmail, []byte("#!/bin/sh\nexec '"+testenv.MailpitBinary(t)+"' sendmail -S "+mp.SMTP+" \"$@\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := notifierConfig(t, fmt.Sprintf(`exec:
  - name: missed-call-script
    events: [sipbus.call.missed.v1]
    argv: [%q]
    env: {SENDMAIL: %q, MAIL_FROM: "pbx@example.net"}
    timeout: 10s
  - name: sleeper
    events: [sipbus.call.missed.v1]
    argv: [/bin/sh, -c, 'echo $$ > "$OUT/pid"; exec sleep 60']
    env: {OUT: %q}
    timeout: 1s
`, script, sendmail, dir))
	s := startUp(t, "--smtp", "none", "--notifier-config", cfg, "--log-level", "info")
	cli(t, s.nats, "user", "add", "carol@localhost", "--password", "carol-secret", "--email", "carol@example.com")
	pwned := filepath.Join(dir, "pwned")
	name := "\"$(touch " + pwned + "1); touch " + pwned + "2 `touch " + pwned + "3`\""
	runSIPp(t, "uac named", "uac_named.xml", s.sip, "-p", strconv.Itoa(testenv.FreePort(t, "udp")), "-s", "carol",
		"-key", "domain", "localhost", "-key", "caller_name", name, "-m", "1").wait(t, 30*time.Second)
	testenv.Eventually(t, 20*time.Second, func() bool { return len(mp.Messages(t)) == 1 }, "the script's mail; stderr:\n%s", s.p.stderrString())
	m := mp.Messages(t)[0]
	if len(m.To) != 1 || m.To[0].Address != "carol@example.com" || !strings.Contains(m.Subject, "$(touch "+pwned+"1); touch "+pwned+"2 `touch") {
		t.Errorf("mail To %v subject %q", m.To, m.Subject)
	}
	if text := mp.Message(t, m.ID).Text; !strings.Contains(text, "Why: was offline (SIP 480)") || !strings.Contains(text, "<sip:caller@localhost>") {
		t.Errorf("mail text:\n%s", text)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return strings.Contains(s.p.stderrString(), "killed at its timeout (1s)") },
		"the sleeper killed; stderr:\n%s", s.p.stderrString())
	raw, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	testenv.Eventually(t, 5*time.Second, func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH }, "the sleeper (pid %d) still runs", pid)
	if files, _ := filepath.Glob(pwned + "*"); len(files) > 0 {
		t.Errorf("commands in the caller's name ran: %v", files)
	}
	stderr := s.p.stderrString()
	if !regexp.MustCompile(`msg="notifier: exec" .*rule=missed-call-script .*exit=0 .*stdout="missed-call: mailed carol@example.com`).MatchString(stderr) {
		t.Errorf("no log line of the script's run:\n%s", stderr)
	}
	if out := cli(t, s.nats, "notifier", "failed"); !strings.Contains(out, "rule sleeper") || !strings.Contains(out, "killed at its timeout") {
		t.Errorf("notifier failed:\n%s", out)
	}
}

// TestReadmeMissedCallMail runs the README's "missed-call e-mail" section:
// `sipbus up --smtp dev` starts Mailpit and prints where to read the
// mails; a subscriber with an e-mail address; a SIPp call to her while she
// is offline; the mail, read from the printed REST URL. Stopping sipbus
// stops Mailpit.
func TestReadmeMissedCallMail(t *testing.T) {
	sippPath(t)
	testenv.MailpitBinary(t)
	data := t.TempDir()
	s := startUp(t, "--smtp", "dev", "--data", data)
	line := ""
	for _, l := range s.p.seen {
		if strings.HasPrefix(l, "  smtp   dev: Mailpit on 127.0.0.1:") {
			line = l
		}
	}
	api := regexp.MustCompile(`read the mails at (http://127\.0\.0\.1:\d+/api/v1/messages)$`).FindStringSubmatch(line)
	if api == nil {
		t.Fatalf("no smtp line naming the REST URL in:\n%s", strings.Join(s.p.seen, "\n"))
	}
	cli(t, s.nats, "user", "add", "bob@localhost", "--password", "bob-secret", "--email", "bob@example.com")
	runSIPp(t, "uac 480", "uac_480.xml", s.sip, "-p", strconv.Itoa(testenv.FreePort(t, "udp")), "-s", "bob",
		"-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	var got struct {
		Messages []testenv.Message
	}
	testenv.Eventually(t, 20*time.Second, func() bool {
		resp, err := http.Get(api[1])
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&got) == nil && len(got.Messages) == 1
	}, "the mail at %s", api[1])
	if m := got.Messages[0]; m.To[0].Address != "bob@example.com" || m.Subject != "Missed call from sip:caller@localhost (was offline)" {
		t.Errorf("mail %+v", m)
	}
	_ = s.p.cmd.Process.Signal(os.Interrupt)
	_ = s.p.cmd.Wait()
	if _, err := http.Get(api[1]); err == nil {
		t.Error("Mailpit still answers after sipbus stopped")
	}
}

// TestUpSMTPURL: `sipbus up --smtp URL` prints an smtp line naming the
// server without its password (nor does the password reach the log), and
// authenticates with it.
func TestUpSMTPURL(t *testing.T) {
	sippPath(t)
	mp := testenv.StartMailpit(t)
	const secret = "pa55-w0rd-never-printed"
	s := startUp(t, "--smtp", "smtp://mailer:"+secret+"@"+mp.SMTP+"?tls=none", "--log-level", "debug", "--notifier-config", notifierConfig(t, ""))
	want := "  smtp   smtp://mailer@" + mp.SMTP + "?tls=none (no TLS)"
	if !slices.Contains(s.p.seen, want) {
		t.Errorf("no line %q in:\n%s", want, strings.Join(s.p.seen, "\n"))
	}
	cli(t, s.nats, "user", "add", "dan@localhost", "--password", "dan-secret", "--email", "dan@example.com")
	runSIPp(t, "uac 480", "uac_480.xml", s.sip, "-p", strconv.Itoa(testenv.FreePort(t, "udp")), "-s", "dan",
		"-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	testenv.Eventually(t, 20*time.Second, func() bool { return len(mp.Messages(t)) == 1 }, "the mail; stderr:\n%s", s.p.stderrString())
	if strings.Contains(strings.Join(s.p.seen, "\n"), secret) || strings.Contains(s.p.stderrString(), secret) {
		t.Error("the SMTP password was printed")
	}
	cmd := exec.Command(sipbusBinary(t), "up", "--smtp", "smtp://mailer:"+secret+"@mail.example.com?tls=none",
		"--sip", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp")), "--nats-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp")),
		"--data", t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "clear text") || strings.Contains(string(out), secret) {
		t.Errorf("up with a clear-text password to a remote server: %v\n%s", err, out)
	}
}

// grepLines returns the lines of text that contain sub.
func grepLines(text, sub string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
