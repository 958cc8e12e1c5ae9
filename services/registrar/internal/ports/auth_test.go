package ports

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
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
	a, err := digest.New(digest.Options{Realm: "example.com", Secret: []byte("0123456789abcdef"), Counter: digest.NewMemoryCounter(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return &Auth{Realms: map[string]*digest.Authenticator{"example.com": a}, Algorithms: []digest.Algorithm{digest.SHA256, digest.MD5},
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
		v := a.Check(ctx, registerWith(t, tc.lines...), "alice@example.com", tc.redelivered)
		if v.Status != tc.status || !strings.HasPrefix(v.Reason, tc.reason) {
			t.Errorf("%s: %d %q (%v), want %d %q", tc.name, v.Status, v.Reason, v.Result, tc.status, tc.reason)
		}
		if v.Status == 401 && len(v.Headers) != 2 {
			t.Errorf("%s: headers %q", tc.name, v.Headers)
		}
	}
}

// FuzzAuthCheck: no Authorization header value authenticates without the
// password, and none crashes the check.
func FuzzAuthCheck(f *testing.F) {
	a := newAuth(f)
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
		v := a.Check(context.Background(), registerWith(t, "Authorization: "+strings.TrimPrefix(value, "Authorization: ")), "alice@example.com", false)
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
}
