package main

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestBruteForce: `sipbus up` with its defaults, on Redis. 1,000 wrong
// passwords for alice from 127.0.0.1 (a Go UDP client, one REGISTER at a
// time as a guesser sends them) are answered 401 nine times, then 403
// "Too many failed authentications": the 10th failure blocks alice from
// that address, the 100th the address for everyone, one log line each.
// The right password from the blocked address is refused too; from
// 127.0.0.2 (sipsak) it registers.
func TestBruteForce(t *testing.T) {
	sipsak := peerPath(t, "sipsak", "sipsak")
	s := startUp(t, "--redis", testenv.RedisURL(t))
	cli(t, s.nats, "user", "add", "alice@localhost", "--password", "alice-secret")

	guesser := newUA(t)
	register(guesser, s.sip, "alice", "sip:alice@"+guesser.addr, "")
	ch := guesser.recv(5*time.Second, isResponse(401, "REGISTER"))
	if ch == nil {
		t.Fatal("no 401 challenge")
	}
	nonce := param(ch.Value(sipmsg.HWWWAuthenticate), "nonce")
	answer := func(password string, nc int) string {
		ha1 := digest.HA1(digest.MD5, "alice", "localhost", password)
		ncs := fmt.Sprintf("%08x", nc)
		resp := md5hex(ha1 + ":" + nonce + ":" + ncs + ":c0ffee:auth:" + md5hex("REGISTER:sip:localhost"))
		return fmt.Sprintf(`Authorization: Digest username="alice", realm="localhost", nonce="%s", uri="sip:localhost", response="%s", algorithm=MD5, qop=auth, nc=%s, cnonce="c0ffee"`+"\r\n", nonce, resp, ncs)
	}
	start := time.Now()
	statuses := map[string]int{}
	const guesses = 1000
	for i := 1; i <= guesses; i++ {
		registerCSeq(guesser, s.sip, "alice", "sip:alice@"+guesser.addr, answer(fmt.Sprintf("guess-%d", i), i), i+1)
		m := guesser.recv(5*time.Second, func(m *sipmsg.Msg) bool {
			cs, _ := m.CSeq()
			return !m.Request && cs.Seq == uint32(i+1)
		})
		if m == nil {
			t.Fatalf("guess %d: no answer within 5s", i)
		}
		want := "401 Unauthorized"
		if i >= 10 {
			want = "403 Too many failed authentications"
		}
		got := fmt.Sprintf("%d %s", m.StatusCode, m.Str(m.Reason))
		if got != want {
			t.Fatalf("guess %d answered %q, want %q", i, got, want)
		}
		statuses[got]++
		if time.Since(start) > 25*time.Second {
			t.Fatalf("only %d guesses answered in 25s", i)
		}
	}
	t.Logf("%d wrong passwords in %v: %v", guesses, time.Since(start).Round(time.Millisecond), statuses)

	registerCSeq(guesser, s.sip, "alice", "sip:alice@"+guesser.addr, answer("alice-secret", guesses+1), guesses+2)
	if m := guesser.recv(5*time.Second, func(m *sipmsg.Msg) bool { return !m.Request }); m == nil || m.StatusCode != 403 {
		t.Fatalf("the right password from the blocked address answered %v, want 403", m)
	}

	out, err := exec.Command(sipsak, "-U", "-s", "sip:alice@localhost", "-u", "alice", "-a", "alice-secret", "-x", "600",
		"-H", "127.0.0.2", "--local-ip", "127.0.0.2", "-p", s.sip, "-i").CombinedOutput()
	if err != nil {
		t.Fatalf("the right password from 127.0.0.2 (sipsak): %v\n%s", err, out)
	}
	var show regapi.AORBindings
	if err := json.Unmarshal([]byte(cli(t, s.nats, "ul", "show", "alice@localhost", "--json")), &show); err != nil {
		t.Fatal(err)
	}
	if len(show.Bindings) != 1 || !strings.HasPrefix(show.Bindings[0].Contact, "sip:alice@127.0.0.2:") {
		t.Errorf("ul show alice: %+v, want only the binding registered from 127.0.0.2", show)
	}

	logs := s.p.stderrString()
	if n := strings.Count(logs, "blocking after failed authentications"); n != 2 {
		t.Errorf("%d block log lines, want 2 (alice from 127.0.0.1, then 127.0.0.1):\n%s", n, logs)
	}
	for _, want := range []string{"user=alice@localhost source=127.0.0.1 scope=user failures=10", "source=127.0.0.1 scope=source failures=100"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "guess-") || strings.Contains(logs, "response=") || strings.Contains(logs, "alice-secret") {
		t.Errorf("the log shows credentials:\n%s", logs)
	}
}
