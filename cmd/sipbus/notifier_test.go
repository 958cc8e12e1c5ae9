package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
	s := startUp(t, "--no-answer", "2s", "--smtp", "smtp://"+mp.SMTP+"?tls=none", "--notifier-config", notifierConfig(t, ""))
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
