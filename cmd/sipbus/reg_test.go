package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// usersFile writes a SIPp injection file: n users "<prefix>NNNN" (field0),
// the SIPp keyword answering a challenge with password "pw-<user>" (field1)
// and one with a wrong password (field2). SIPp 3.6 does not expand a field
// inside a keyword, so the whole keyword is the field.
func usersFile(t *testing.T, prefix string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for i := 1; i <= n; i++ {
		u := fmt.Sprintf("%s%04d", prefix, i)
		fmt.Fprintf(&b, "%s;[authentication username=%s password=pw-%s];[authentication username=%s password=wrong-%s]\n", u, u, u, u, u)
	}
	f := filepath.Join(t.TempDir(), prefix+".csv")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// cli runs a sipbus command and returns its stdout; it fails the test on a
// non-zero exit unless wantErr.
func cli(t *testing.T, natsURL string, args ...string) string {
	t.Helper()
	cmd := exec.Command(sipbusBinary(t), append(args, "--nats", natsURL)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("sipbus %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// cliExit runs a sipbus command that may fail and returns its stdout,
// stderr and exit code.
func cliExit(t *testing.T, natsURL string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(sipbusBinary(t), append(args, "--nats", natsURL)...)
	var eb strings.Builder
	cmd.Stderr = &eb
	out, err := cmd.Output()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("sipbus %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return string(out), eb.String(), code
}

func dump(t *testing.T, natsURL string) []regapi.AORBindings {
	t.Helper()
	var aors []regapi.AORBindings
	if err := json.Unmarshal([]byte(cli(t, natsURL, "ul", "dump", "--json")), &aors); err != nil {
		t.Fatal(err)
	}
	return aors
}

func countPrefix(aors []regapi.AORBindings, prefix string) (n int) {
	for _, a := range aors {
		if strings.HasPrefix(a.AOR, prefix) {
			n += len(a.Bindings)
		}
	}
	return n
}

type upStack struct {
	sip, nats string
	p         *proc
}

func startUp(t *testing.T, extra ...string) *upStack {
	t.Helper()
	sipPort, natsPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "tcp")
	s := &upStack{sip: fmt.Sprintf("127.0.0.1:%d", sipPort), nats: fmt.Sprintf("nats://127.0.0.1:%d", natsPort)}
	args := append([]string{"up", "--sip", s.sip, "--data", t.TempDir(), "--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--log-level", "warn"}, extra...)
	s.p = start(t, args...)
	s.p.waitLine(t, "ready", 30*time.Second)
	return s
}

// TestRegistrations: 1000 distinct users register, refresh and unregister
// through SIPp with no failure; 1000 more register for 6 seconds, show in
// `sipbus ul dump` and vanish on time. On a real Redis.
func TestRegistrations(t *testing.T) {
	sippPath(t)
	s := startUp(t, "--auth", "off", "--min-expires", "1s", "--redis", testenv.RedisURL(t))
	uacPort := strconv.Itoa(testenv.FreePort(t, "udp"))

	runSIPp(t, "reg_lifecycle", "reg_lifecycle.xml", s.sip, "-p", uacPort, "-inf", usersFile(t, "life", 1000),
		"-key", "domain", "localhost", "-m", "1000", "-r", "200").wait(t, 90*time.Second)
	if n := countPrefix(dump(t, s.nats), "life"); n != 0 {
		t.Errorf("%d bindings left after unregistering", n)
	}

	runSIPp(t, "reg_expire", "reg_expire.xml", s.sip, "-p", uacPort, "-inf", usersFile(t, "short", 1000),
		"-key", "domain", "localhost", "-key", "expires", "6", "-m", "1000", "-r", "1000").wait(t, 60*time.Second)
	registered := time.Now()
	if n := countPrefix(dump(t, s.nats), "short"); n != 1000 {
		t.Fatalf("ul dump shows %d short-lived bindings, want 1000", n)
	}
	var one regapi.AORBindings
	if err := json.Unmarshal([]byte(cli(t, s.nats, "ul", "show", "short0001@localhost", "--json")), &one); err != nil {
		t.Fatal(err)
	}
	if len(one.Bindings) != 1 || !strings.HasPrefix(one.Bindings[0].Contact, "sip:short0001@127.0.0.1:") || one.Bindings[0].Expires > 6 {
		t.Errorf("ul show: %+v", one)
	}
	testenv.Eventually(t, 15*time.Second, func() bool { return countPrefix(dump(t, s.nats), "short") == 0 }, "bindings did not expire")
	if d := time.Since(registered); d < 4*time.Second {
		t.Errorf("bindings vanished after %v, before their 6s expiry", d)
	}
}

// TestRegisterAuth: with the default flags (authentication required, one
// MD5 challenge), SIPp's challenge and response registers every
// provisioned user (SIPp 3.6 answers only MD5); a wrong password gets a
// second 401, never a 200. A domain moved to SHA-256
// (--auth-sha256-domain) is challenged SHA-256 first, then MD5 (RFC 8760),
// and a SHA-256 answer registers.
func TestRegisterAuth(t *testing.T) {
	sippPath(t)
	redisURL := testenv.RedisURL(t)
	s := startUp(t, "--redis", redisURL)
	const n = 20
	for i := 1; i <= n; i++ {
		u := fmt.Sprintf("auth%04d", i)
		cli(t, s.nats, "user", "add", u+"@localhost", "--password", "pw-"+u, "--email", u+"@example.com")
	}
	users := usersFile(t, "auth", n)
	uacPort := strconv.Itoa(testenv.FreePort(t, "udp"))
	runSIPp(t, "reg_auth", "reg_auth.xml", s.sip, "-p", uacPort, "-inf", users, "-key", "domain", "localhost",
		"-m", strconv.Itoa(n), "-r", "50").wait(t, 60*time.Second)
	if got := countPrefix(dump(t, s.nats), "auth"); got != n {
		t.Errorf("%d bindings after authenticated REGISTERs, want %d", got, n)
	}
	for _, u := range []string{"auth0001", "auth0002"} {
		cli(t, s.nats, "ul", "rm", u+"@localhost")
	}
	runSIPp(t, "reg_auth_wrong", "reg_auth_wrong.xml", s.sip, "-p", uacPort, "-inf", users, "-key", "domain", "localhost",
		"-m", "2", "-r", "10").wait(t, 30*time.Second)
	for _, u := range []string{"auth0001", "auth0002"} {
		out, stderr, code := cliExit(t, s.nats, "ul", "show", u+"@localhost", "--json")
		if code == 0 || !strings.Contains(stderr, "404") {
			t.Errorf("a wrong password registered %s: exit %d, %s%s", u, code, out, stderr)
		}
	}

	// SHA-256 (RFC 8760), offered first to localhost's clients. Neither
	// SIPp 3.6 nor sipsak 0.9.8 (Debian's) answers SHA-256, so a scripted
	// UA does, over real UDP through the edge.
	s2 := startUp(t, "--auth-sha256-domain", "localhost", "--redis", redisURL)
	cli(t, s2.nats, "user", "add", "sha@localhost", "--password", "pw-sha-256")
	u := newUA(t)
	register(u, s2.sip, "sha", "sip:sha@"+u.addr, "")
	ch := u.recv(5*time.Second, isResponse(401, "REGISTER"))
	if ch == nil {
		t.Fatal("no 401 challenge")
	}
	chs := ch.Values(sipmsg.HWWWAuthenticate)
	if len(chs) != 2 || !strings.Contains(chs[0], "algorithm=SHA-256") || !strings.Contains(chs[1], "algorithm=MD5") {
		t.Fatalf("challenges %q: want SHA-256 then MD5", chs)
	}
	nonce := param(chs[0], "nonce")
	answer := func(password, nc string) string {
		ha1 := digest.HA1(digest.SHA256, "sha", "localhost", password)
		ha2 := sha256hex("REGISTER:sip:localhost")
		resp := sha256hex(ha1 + ":" + nonce + ":" + nc + ":c0ffee:auth:" + ha2)
		return fmt.Sprintf(`Authorization: Digest username="sha", realm="localhost", nonce="%s", uri="sip:localhost", response="%s", algorithm=SHA-256, qop=auth, nc=%s, cnonce="c0ffee"`+"\r\n", nonce, resp, nc)
	}
	registerCSeq(u, s2.sip, "sha", "sip:sha@"+u.addr, answer("wrong-password", "00000001"), 2)
	if m := u.recv(5*time.Second, func(m *sipmsg.Msg) bool { return !m.Request }); m == nil || m.StatusCode != 401 {
		t.Fatalf("wrong SHA-256 password answered %v, want 401", m)
	}
	registerCSeq(u, s2.sip, "sha", "sip:sha@"+u.addr, answer("pw-sha-256", "00000002"), 3)
	if u.recv(5*time.Second, isResponse(200, "REGISTER")) == nil {
		t.Fatal("the SHA-256 answer did not register")
	}
	registerCSeq(u, s2.sip, "sha", "sip:sha@"+u.addr, answer("pw-sha-256", "00000002"), 4)
	if m := u.recv(5*time.Second, func(m *sipmsg.Msg) bool { return !m.Request }); m == nil || m.StatusCode != 401 {
		t.Fatalf("a replayed nonce count answered %v, want 401", m)
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// param reads a quoted parameter of a challenge.
func param(v, name string) string {
	_, rest, ok := strings.Cut(v, name+`="`)
	if !ok {
		return ""
	}
	val, _, _ := strings.Cut(rest, `"`)
	return val
}

func register(u *ua, proxy, user, contact, extra string) {
	registerCSeq(u, proxy, user, contact, extra, 1)
}

func registerCSeq(u *ua, proxy, user, contact, extra string, cseq int) {
	u.send(proxy, fmt.Sprintf(`REGISTER sip:localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-reg-%s-%d;rport
From: <sip:%s@localhost>;tag=r-%s
To: <sip:%s@localhost>
Call-ID: reg-%s@test
CSeq: %d REGISTER
Contact: <%s>
%sExpires: 600
Max-Forwards: 70
Content-Length: 0

`, u.addr, user, cseq, user, user, user, user, cseq, contact, strings.ReplaceAll(extra, "\r\n", "\n")))
}

// TestCallToRegisteredUser: tm reaches registered contacts through the
// location service: a contact behind NAT (its Contact names a private
// address) is reached at the address its REGISTER came from, with the
// Request-URI kept; a binding with a Path is reached through the Path.
// The bindings are in Redis: a new sipbus process on the same Redis still
// has them.
func TestCallToRegisteredUser(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	s := startUp(t, "--auth", "off", "--redis", redisURL)
	uac, bob, carol, edge := newUA(t), newUA(t), newUA(t), newUA(t)

	register(bob, s.sip, "bob", "sip:bob@10.9.9.9:5060", "")
	if bob.recv(5*time.Second, isResponse(200, "REGISTER")) == nil {
		t.Fatal("bob's REGISTER got no 200")
	}
	register(carol, s.sip, "carol", "sip:carol@"+carol.addr, "Path: <sip:"+edge.addr+";lr>\r\nSupported: path\r\n")
	if carol.recv(5*time.Second, isResponse(200, "REGISTER")) == nil {
		t.Fatal("carol's REGISTER got no 200")
	}

	call := func(n int, user string) {
		uac.send(s.sip, fmt.Sprintf(`INVITE sip:%s@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-regcall-%d;rport
From: <sip:alice@localhost>;tag=a%d
To: <sip:%s@localhost>
Call-ID: regcall-%d@test
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, user, uac.addr, n, n, user, n, uac.addr))
	}
	call(1, "bob")
	inv := bob.recv(5*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatal("the INVITE for bob did not reach the address his REGISTER came from (NAT)")
	}
	if got := inv.Str(inv.RequestURI); got != "sip:bob@10.9.9.9:5060" {
		t.Errorf("Request-URI %q, want the registered contact", got)
	}
	v, _ := inv.TopVia()
	bob.sendRaw(v.SentBy(), replyTo(inv, 486, "Busy Here"))
	if uac.recv(5*time.Second, isResponse(486, "INVITE")) == nil {
		t.Fatal("bob's 486 did not come back")
	}

	call(2, "carol")
	inv = edge.recv(5*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatal("the INVITE for carol did not go through her Path")
	}
	if r := inv.Value(sipmsg.HRoute); r != "<sip:"+edge.addr+";lr>" {
		t.Errorf("Route %q, want carol's Path", r)
	}
	if got := inv.Str(inv.RequestURI); got != "sip:carol@"+carol.addr {
		t.Errorf("Request-URI %q", got)
	}

	// Every sipbus process restarts: the bindings are still there.
	_ = s.p.cmd.Process.Signal(os.Interrupt)
	_ = s.p.cmd.Wait()
	s2 := startUp(t, "--auth", "off", "--redis", redisURL)
	var one regapi.AORBindings
	if err := json.Unmarshal([]byte(cli(t, s2.nats, "ul", "show", "bob@localhost", "--json")), &one); err != nil {
		t.Fatal(err)
	}
	if len(one.Bindings) != 1 || one.Bindings[0].Contact != "sip:bob@10.9.9.9:5060" {
		t.Errorf("after a restart ul show bob: %+v", one)
	}
}
