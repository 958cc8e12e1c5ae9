package ports

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/registrar/internal/app"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newAuth is an Auth for example.com with alice (password alice-secret).
func newAuth(t testing.TB) *Auth {
	t.Helper()
	dir := subscriber.NewMemory()
	s := subscriber.Subscriber{AOR: "alice@example.com", Enabled: true}
	if err := s.SetPassword("alice-secret"); err != nil {
		t.Fatal(err)
	}
	if err := dir.Add(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	both := []digest.Algorithm{digest.SHA256, digest.MD5}
	a, err := digest.New(digest.Options{Realm: "example.com", Secret: []byte("0123456789abcdef"), Counter: digest.NewMemoryCounter(nil), Algorithms: both})
	if err != nil {
		t.Fatal(err)
	}
	return &Auth{Realms: map[string]*digest.Authenticator{"example.com": a}, Policy: app.AuthPolicy{Default: both},
		Directory: dir, Log: quiet}
}

func registerWith(t testing.TB, lines ...string) *sipmsg.Msg {
	t.Helper()
	raw := "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK1;rport\r\n" +
		"To: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: <sip:alice@192.0.2.4>\r\n"
	for _, l := range lines {
		raw += l + "\r\n"
	}
	m, err := sipmsg.Parse([]byte(raw+"Content-Length: 0\r\n\r\n"), sipmsg.Datagram)
	if err != nil {
		t.Skipf("not a message: %v", err) // fuzz input that breaks the framing
	}
	return m
}

// md5Answer answers an MD5 challenge for alice with pw.
func md5Answer(nonce, pw string) string { return md5AnswerNC(nonce, pw, "00000001") }

func md5AnswerNC(nonce, pw, nc string) string {
	hx := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	ha1 := hx("alice:example.com:" + pw)
	resp := hx(ha1 + ":" + nonce + ":" + nc + ":c0:auth:" + hx("REGISTER:sip:example.com"))
	return fmt.Sprintf(`Authorization: Digest username="alice", realm="example.com", nonce="%s", uri="sip:example.com", response="%s", algorithm=MD5, qop=auth, nc=%s, cnonce="c0"`, nonce, resp, nc)
}

func TestAuthCheck(t *testing.T) {
	a := newAuth(t)
	ctx := context.Background()
	nonce := a.Realms["example.com"].Challenges(false)[1].Nonce
	tests := []struct {
		name        string
		lines       []string
		redelivered bool
		status      int
		reason      string
	}{
		{"none", nil, false, 401, "Unauthorized"},
		{"wrong password", []string{md5Answer(nonce, "guess")}, false, 401, "Unauthorized"},
		{"right password", []string{md5Answer(nonce, "alice-secret")}, false, 0, ""},
		{"replayed nc", []string{md5Answer(nonce, "alice-secret")}, false, 401, "Unauthorized"},
		{"replayed nc, redelivered event", []string{md5Answer(nonce, "alice-secret")}, true, 0, ""},
		{"wrong password, redelivered event", []string{md5Answer(nonce, "guess")}, true, 401, "Unauthorized"},
		{"two headers, ours second", []string{`Authorization: Digest username="alice", realm="other", nonce="n", uri="sip:example.com", response="00000000000000000000000000000000"`,
			md5AnswerNC(nonce, "alice-secret", "00000002")}, false, 0, ""},
		{"other realm only", []string{`Authorization: Digest username="alice", realm="other", nonce="n", uri="sip:example.com", response="00000000000000000000000000000000"`}, false, 401, "Unauthorized"},
		{"uri not the Request-URI", []string{strings.Replace(md5AnswerNC(nonce, "alice-secret", "00000003"), `uri="sip:example.com"`, `uri="sip:x.example.com"`, 1)}, false, 400, `Malformed Authorization: parameter "uri": "sip:x.example.com"`},
		{"malformed", []string{`Authorization: Digest username="alice"`}, false, 400, `Malformed Authorization: missing parameter "realm"`},
		{"basic", []string{`Authorization: Basic YWxpY2U6YWxpY2Utc2VjcmV0`}, false, 401, "Unauthorized"},
	}
	for _, tc := range tests {
		v := a.Check(ctx, registerWith(t, tc.lines...), srcA, "alice@example.com", tc.redelivered)
		if v.Status != tc.status || !strings.HasPrefix(v.Reason, tc.reason) {
			t.Errorf("%s: %d %q (%v), want %d %q", tc.name, v.Status, v.Reason, v.Result, tc.status, tc.reason)
		}
		if v.Status == 401 && len(v.Headers) != 2 {
			t.Errorf("%s: headers %q", tc.name, v.Headers)
		}
	}
}

var (
	srcA = netip.MustParseAddr("192.0.2.4")
	srcB = netip.MustParseAddr("198.51.100.9")
)

// TestAuthChallengePolicy: the challenges follow app.AuthPolicy: MD5
// alone by default; SHA-256 first for a listed domain or User-Agent.
func TestAuthChallengePolicy(t *testing.T) {
	a := newAuth(t)
	a.Policy = app.AuthPolicy{Default: []digest.Algorithm{digest.MD5}, SHA256UserAgents: []*regexp.Regexp{regexp.MustCompile(`^Linphone/`)}}
	for _, tc := range []struct {
		ua   string
		want string
	}{
		{"", "[MD5]"},
		{"User-Agent: baresip v1.0.0 (x86_64/linux)", "[MD5]"},
		{"User-Agent: Linphone/5.2.0 (belle-sip/5.2.0)", "[SHA-256 MD5]"},
	} {
		var lines []string
		if tc.ua != "" {
			lines = append(lines, tc.ua)
		}
		v := a.Check(context.Background(), registerWith(t, lines...), srcA, "alice@example.com", false)
		var algs []string
		for _, h := range v.Headers {
			_, alg, _ := strings.Cut(h, "algorithm=")
			alg, _, _ = strings.Cut(alg, ",")
			algs = append(algs, alg)
		}
		if v.Status != 401 || fmt.Sprint(algs) != tc.want {
			t.Errorf("%q: %d, algorithms %v, want 401 %s", tc.ua, v.Status, algs, tc.want)
		}
	}
}

// TestAuthLimits: wrong passwords for one user from one source block that
// user from that source (403, the right password too), not from another
// source; more failures from the source, whatever the users, block the
// source for everybody. One log line per block, naming user and source,
// never the response.
func TestAuthLimits(t *testing.T) {
	a := newAuth(t)
	var logged strings.Builder
	a.Log = slog.New(slog.NewTextHandler(&logged, nil))
	a.Failures = digest.NewMemoryFailures(nil)
	a.Limits = digest.Limits{Window: time.Minute, PerUser: 3, PerSource: 6, Block: time.Minute}
	ctx := context.Background()
	nonce := a.Realms["example.com"].Challenges(false)[1].Nonce
	nc := 0
	try := func(src netip.Addr, pw string, lines ...string) Verdict {
		nc++
		lines = append(lines, md5AnswerNC(nonce, pw, fmt.Sprintf("%08x", nc)))
		return a.Check(ctx, registerWith(t, lines...), src, "alice@example.com", false)
	}
	for i, want := range []int{401, 401, 403, 403} {
		if v := try(srcA, "guess"); v.Status != want {
			t.Fatalf("wrong password %d from A: %d %q, want %d", i+1, v.Status, v.Reason, want)
		}
	}
	if v := try(srcA, "alice-secret"); v.Status != 403 || v.Reason != ReasonBlocked {
		t.Fatalf("right password from the blocked source: %d %q, want 403 %q", v.Status, v.Reason, ReasonBlocked)
	}
	if v := try(srcB, "alice-secret"); v.Status != 0 {
		t.Fatalf("right password from another source: %d %q, want accepted", v.Status, v.Reason)
	}
	if v := a.Check(ctx, registerWith(t), srcA, "alice@example.com", false); v.Status != 401 {
		t.Fatalf("no credentials from the blocked source: %d, want 401 (nothing is looked up)", v.Status)
	}
	// Another user from A: counted towards A's limit, which blocks A.
	bob := func(resp string) Verdict {
		return a.Check(ctx, registerWith(t, `Authorization: Digest username="bob", realm="example.com", nonce="`+nonce+
			`", uri="sip:example.com", response="`+resp+`", algorithm=MD5`), srcA, "bob@example.com", false)
	}
	if v := bob(strings.Repeat("0", 32)); v.Status != 401 {
		t.Fatalf("bob's first failure from A: %d, want 401", v.Status)
	}
	if v := bob(strings.Repeat("1", 32)); v.Status != 403 {
		t.Fatalf("the sixth failure from A: %d, want 403 (source blocked)", v.Status)
	}
	out := logged.String()
	if n := strings.Count(out, "blocking after failed authentications"); n != 2 {
		t.Fatalf("%d block lines, want 2 (user, then source):\n%s", n, out)
	}
	for _, want := range []string{"user=alice@example.com source=192.0.2.4 scope=user failures=3", "user=bob@example.com source=192.0.2.4 scope=source failures=6"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "response") || strings.Contains(out, "guess") {
		t.Errorf("log shows credentials:\n%s", out)
	}
}

// TestAuthLimitsLogEscapes: the user name in the block line is the
// client's, quoted by the log handler: it cannot forge fields or lines.
func TestAuthLimitsLogEscapes(t *testing.T) {
	a := newAuth(t)
	var logged strings.Builder
	a.Log = slog.New(slog.NewTextHandler(&logged, nil))
	a.Failures = digest.NewMemoryFailures(nil)
	a.Limits = digest.Limits{Window: time.Minute, PerUser: 1, Block: time.Minute}
	nonce := a.Realms["example.com"].Challenges(false)[1].Nonce
	v := a.Check(context.Background(), registerWith(t, `Authorization: Digest username="x\" level=ERROR msg=\"forged", realm="example.com", nonce="`+nonce+
		`", uri="sip:example.com", response="`+strings.Repeat("0", 32)+`", algorithm=MD5`), srcA, "alice@example.com", false)
	if v.Status != 403 {
		t.Fatalf("first failure with limit 1: %d, want 403", v.Status)
	}
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `user="x\" level=ERROR msg=\"forged@example.com"`) || !strings.Contains(lines[0], " level=WARN msg=") {
		t.Errorf("block line %q: want one line with the user quoted", lines)
	}
}

// TestAuthLimitsUnavailable: right credentials whose source cannot be
// checked get 503 (never accepted unchecked); a failure that cannot be
// counted is answered as usual.
func TestAuthLimitsUnavailable(t *testing.T) {
	a := newAuth(t)
	a.Failures = brokenFailures{}
	a.Limits = digest.Limits{Window: time.Minute, PerUser: 3, Block: time.Minute}
	nonce := a.Realms["example.com"].Challenges(false)[1].Nonce
	ctx := context.Background()
	if v := a.Check(ctx, registerWith(t, md5AnswerNC(nonce, "guess", "00000001")), srcA, "alice@example.com", false); v.Status != 401 {
		t.Errorf("wrong password, counter down: %d, want 401", v.Status)
	}
	v := a.Check(ctx, registerWith(t, md5AnswerNC(nonce, "alice-secret", "00000002")), srcA, "alice@example.com", false)
	if v.Status != 503 || v.Reason != ReasonLimitDown {
		t.Errorf("right password, counter down: %d %q, want 503 %q", v.Status, v.Reason, ReasonLimitDown)
	}
}

type brokenFailures struct{}

func (brokenFailures) Fail(context.Context, string, netip.Addr, digest.Limits) (digest.Block, error) {
	return digest.Block{}, digest.ErrUnavailable
}

func (brokenFailures) Blocked(context.Context, string, netip.Addr, digest.Limits) (digest.Block, error) {
	return digest.Block{}, digest.ErrUnavailable
}

// FuzzAuthCheck: no Authorization header value authenticates without the
// password, and none crashes the check (with the brute-force limits and a
// User-Agent policy on).
func FuzzAuthCheck(f *testing.F) {
	a := newAuth(f)
	a.Failures = digest.NewMemoryFailures(nil) // the limits' path too
	a.Limits = digest.Limits{Window: time.Minute, PerUser: 50, PerSource: 200, Block: time.Second}
	a.Policy.SHA256UserAgents = []*regexp.Regexp{regexp.MustCompile(`(?i)phone`)}
	nonce := a.Realms["example.com"].Challenges(false)[1].Nonce
	f.Add(md5Answer(nonce, "guess"))
	f.Add(`Digest username="alice", realm="example.com", nonce="` + nonce + `", uri="sip:example.com", response="0", algorithm=MD5`)
	f.Add(`Digest username="alice", realm="example.com", nonce="x", uri="sip:example.com", response="00000000000000000000000000000000"`)
	f.Add(`Digest username="alice", realm="example.com", nonce="x", uri="sip:example.com", response="` + strings.Repeat("0", 64) + `", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c"`)
	f.Add(`Digest username=alice,realm=example.com,,nonce=,uri=sip:example.com,response=`)
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsAny(value, "\r\n") {
			return
		}
		v := a.Check(context.Background(), registerWith(t, "Authorization: "+strings.TrimPrefix(value, "Authorization: ")), srcA, "alice@example.com", false)
		if v.Status == 0 {
			t.Fatalf("authenticated without the password: %q", value)
		}
	})
}

// BenchmarkRegister measures one authenticated-off REGISTER through the
// handler on the memory engine, without the bus (sender and emitter are
// no-ops).
func BenchmarkRegister(b *testing.B) {
	h := &Register{
		Location: location.NewMemory(), Send: nopSender{}, Emit: nopEmitter{},
		Options: app.Options{Domains: []string{"example.com"}}, Now: time.Now, Log: quiet,
	}
	m := registerWith(b, "Expires: 600")
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++ // a new transaction each time (not a retransmission)
		raw := strings.Replace(string(m.Raw), "CSeq: 1 ", "CSeq: "+strconv.Itoa(n)+" ", 1)
		raw = strings.Replace(raw, "branch=z9hG4bK", "branch=z9hG4bK"+strconv.Itoa(n), 1)
		s := &events.SIP{Type: events.TypeRequestReceived, ID: "1", Source: "sipbus/edge/e1", CallKey: sipmsg.CallKey("c1"),
			Raw: []byte(raw), Transport: "udp", Local: "192.0.2.10:5060", Remote: "198.51.100.7:40000", Edge: "e1"}
		if err := h.Handle(ctx, s, false); err != nil {
			b.Fatal(err)
		}
	}
}

type nopSender struct{}

func (nopSender) Send(context.Context, *edgeapi.Message) error { return nil }

type nopEmitter struct{}

func (nopEmitter) Emit(context.Context, []location.Change, time.Time) error { return nil }

type recordSender struct{ msgs []*edgeapi.Message }

func (r *recordSender) Send(_ context.Context, m *edgeapi.Message) error {
	r.msgs = append(r.msgs, m)
	return nil
}

// TestShedAndRetransmission: an overloaded replica answers 503 with
// Retry-After without touching the location service; a retransmission of
// an answered REGISTER gets the same answer again, from the edge it came
// through.
func TestShedAndRetransmission(t *testing.T) {
	loc := location.NewMemory()
	snd := &recordSender{}
	h := &Register{
		Location: loc, Send: snd, Emit: nopEmitter{},
		Options: app.Options{Domains: []string{"example.com"}}, Now: time.Now, Log: quiet,
	}
	m := registerWith(t)
	ev := func(edge string) *events.SIP {
		return &events.SIP{Type: events.TypeRequestReceived, ID: "1", Source: "sipbus/edge/" + edge, CallKey: sipmsg.CallKey("c1"),
			Raw: m.Raw, Transport: "udp", Local: "192.0.2.10:5060", Remote: "198.51.100.7:40000", Edge: edge}
	}
	ctx := context.Background()
	if err := h.Handle(ctx, ev("e1"), true); err != nil {
		t.Fatal(err)
	}
	rep, _ := sipmsg.Parse(snd.msgs[0].Raw, sipmsg.Datagram)
	if rep.StatusCode != 503 || rep.Value(sipmsg.HRetryAfter) == "" {
		t.Fatalf("shed REGISTER answered:\n%s", snd.msgs[0].Raw)
	}
	if bs, _ := loc.Lookup(ctx, "alice@example.com", time.Now()); len(bs) != 0 {
		t.Errorf("a shed REGISTER was applied: %+v", bs)
	}
	if err := h.Handle(ctx, ev("e1"), false); err != nil { // the UA tries again
		t.Fatal(err)
	}
	if err := h.Handle(ctx, ev("e2"), false); err != nil {
		t.Fatal(err)
	}
	if len(snd.msgs) != 3 || string(snd.msgs[1].Raw) != string(snd.msgs[2].Raw) || snd.msgs[2].Edge != "e2" {
		t.Fatalf("retransmission: %d replies, the last from %q", len(snd.msgs), snd.msgs[len(snd.msgs)-1].Edge)
	}
	if rep, _ := sipmsg.Parse(snd.msgs[2].Raw, sipmsg.Datagram); rep.StatusCode != 200 {
		t.Errorf("REGISTER answered %d", rep.StatusCode)
	}
	// Counted once each: shed, ok, and the retransmission answered from
	// the cache (sipbus_registrar_registers_total{result}).
	for r, want := range map[string]uint64{ResultShed: 1, ResultOK: 1, ResultRetransmission: 1, ResultChallenged: 0, ResultRejected: 0, ResultFailed: 0} {
		if got := h.Results.Load(r); got != want {
			t.Errorf("result %s counted %d, want %d", r, got, want)
		}
	}
}
