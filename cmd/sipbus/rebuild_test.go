package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// redisFlushAll sends FLUSHALL to the Redis of url (RESP over TCP).
func redisFlushAll(t *testing.T, redisURL string) {
	t.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$8\r\nFLUSHALL\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "+OK\r\n" {
		t.Fatalf("FLUSHALL: %q %v", line, err)
	}
}

// registerRaw sends a REGISTER from u for user with expires and waits for 200.
func registerRaw(t *testing.T, u *ua, proxy, user string, expires, cseq int) {
	t.Helper()
	u.send(proxy, fmt.Sprintf(`REGISTER sip:localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-reg-%s-%d;rport
From: <sip:%s@localhost>;tag=reg-%s
To: <sip:%s@localhost>
Call-ID: reg-%s@test
CSeq: %d REGISTER
Contact: <sip:%s@%s>;expires=%d
Max-Forwards: 70
Content-Length: 0

`, u.addr, user, cseq, user, user, user, user, cseq, user, u.addr, expires))
	if u.recv(5*time.Second, isResponse(200, "REGISTER")) == nil {
		t.Fatalf("REGISTER %s (expires %d): no 200", user, expires)
	}
}

func ulShow(t *testing.T, natsURL, aor string) []regapi.Binding {
	t.Helper()
	out, _, code := cliExit(t, natsURL, "ul", "show", aor, "--json")
	if code != 0 {
		return nil
	}
	var b regapi.AORBindings
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("ul show --json: %v\n%s", err, out)
	}
	return b.Bindings
}

// TestRebuildLocation: bob registers for an hour, carol for 2 seconds,
// dave registers and unregisters; Redis loses everything (FLUSHALL);
// `sipbus rebuild location` restores bob only (carol expired, dave
// removed), and a call to bob connects.
func TestRebuildLocation(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	s := startUp(t, "--redis", redisURL, "--auth", "off", "--min-expires", "1s")
	bob, carol, dave, caller := newUA(t), newUA(t), newUA(t), newUA(t)
	registerRaw(t, bob, s.sip, "bob", 3600, 1)
	registerRaw(t, carol, s.sip, "carol", 2, 1)
	registerRaw(t, dave, s.sip, "dave", 3600, 1)
	registerRaw(t, dave, s.sip, "dave", 0, 2)
	if len(ulShow(t, s.nats, "bob@localhost")) != 1 {
		t.Fatal("bob's binding is not in the location service")
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return len(ulShow(t, s.nats, "carol@localhost")) == 0 }, "carol's binding did not expire")

	redisFlushAll(t, redisURL)
	if n := len(ulShow(t, s.nats, "bob@localhost")); n != 0 {
		t.Fatalf("after FLUSHALL bob still has %d bindings", n)
	}
	_, stderr, code := cliExit(t, s.nats, "rebuild", "location")
	if code != 2 || !strings.Contains(stderr, "--redis") {
		t.Errorf("rebuild location without --redis: exit %d, stderr %q", code, stderr)
	}
	out := cli(t, s.nats, "rebuild", "location", "--redis", redisURL)
	t.Logf("rebuild:\n%s", out)
	if !strings.Contains(out, "restored 1,") || !strings.Contains(out, "bob@localhost") || strings.Contains(out, "carol") || strings.Contains(out, "dave") {
		t.Errorf("rebuild location:\n%s", out)
	}
	bs := ulShow(t, s.nats, "bob@localhost")
	if len(bs) != 1 || bs[0].Contact != "sip:bob@"+bob.addr || bs[0].Expires < 3500 {
		t.Fatalf("bob after rebuild: %+v", bs)
	}
	if len(ulShow(t, s.nats, "carol@localhost"))+len(ulShow(t, s.nats, "dave@localhost")) != 0 {
		t.Error("an expired or removed binding came back")
	}
	// Idempotent: a second run keeps what is there.
	if out := cli(t, s.nats, "rebuild", "location", "--redis", redisURL); !strings.Contains(out, "restored 0, 1 already in the store") {
		t.Errorf("second rebuild:\n%s", out)
	}

	// A call to the rebuilt binding connects.
	callID := fmt.Sprintf("rebuilt-%d@test", time.Now().UnixNano())
	caller.send(s.sip, fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-rebuilt-1;rport
From: <sip:alice@localhost>;tag=a1
To: <sip:bob@localhost>
Call-ID: %s
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, caller.addr, callID, caller.addr))
	inv := bob.recv(5*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatalf("the INVITE did not reach bob's rebuilt binding; stderr:\n%s", s.p.stderrString())
	}
	v, _ := inv.TopVia()
	bob.sendRaw(v.SentBy(), sipmsg.Reply(inv, 200, "OK", sipmsg.ReplyOptions{ToTag: "bob1", Headers: []string{"Contact: <sip:bob@" + bob.addr + ">"}}))
	if caller.recv(5*time.Second, isResponse(200, "INVITE")) == nil {
		t.Fatal("the caller got no 200 from bob")
	}
}
