package registrar_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/registrar"
)

// This file is the test bench: a real NATS server with the event stream,
// a stand-in edge that records what the registrar sends (the sip.out
// events of pkg/edgeapi), REGISTER events published exactly as the edge
// publishes them, a reader of the reg.contact.* events the stream stored,
// and a digest client written from RFC 7616 §3.4.1.

const (
	domain = "example.com"
	secret = "0123456789abcdef0123456789abcdef"
	edgeID = "edge-1"
	// remote is where the UA's datagrams come from: a NAT's public side.
	remote = "198.51.100.7:40000"
)

// clock is the registrar's clock: real time shifted by an offset.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time        { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Shift(d time.Duration) { c.off.Store(int64(d)) }
func (c *clock) Offset() time.Duration { return time.Duration(c.off.Load()) }

// bench is one registrar on a NATS server with a fake edge.
type bench struct {
	t      *testing.T
	ctx    context.Context
	url    string // NATS
	nc     *nats.Conn
	js     jetstream.JetStream
	edge   *fakeEdge
	events chan *bus.Event
	clock  *clock
	cfg    registrar.Config
	state  string // OpenState URL
	loc    location.Store
	dir    subscriber.Directory
	// failures counts failed authentications (kept across restarts of a
	// memory bench, on the bench's clock).
	failures digest.FailureCounter
	reg      *registrar.Registrar
	api      *regapi.Client
	// wrapDir, when set, wraps the directory the next start gives the
	// registrar (to make it fail).
	wrapDir func(subscriber.Directory) subscriber.Directory
}

// newBench starts NATS, the stream, the fake edge, the event reader and a
// registrar on state (OpenState URL: "" memory, or a Redis URL) with the
// config edited by edit.
func newBench(t *testing.T, state string, edit func(*registrar.Config)) *bench {
	t.Helper()
	srv := testenv.NATS(t)
	nc, js := testenv.Connect(t, srv.ClientURL())
	ctx := testenv.Context(t, 2*time.Minute)
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{Memory: true}); err != nil {
		t.Fatal(err)
	}
	b := &bench{
		t: t, ctx: ctx, url: srv.ClientURL(), nc: nc, js: js,
		edge:  startEdge(t, nc),
		clock: &clock{}, state: state,
		api: &regapi.Client{NC: nc, Timeout: 5 * time.Second},
	}
	b.events = readEvents(t, ctx, js)
	cfg := registrar.DefaultConfig()
	cfg.ID = "reg-test"
	cfg.Domains = []string{domain}
	cfg.AuthSecret = secret
	cfg.ExpiryScan = 50 * time.Millisecond
	cfg.Workers = 8
	if edit != nil {
		edit(&cfg)
	}
	b.cfg = cfg
	b.start()
	return b
}

// start opens the state and starts a registrar (again, after stop).
func (b *bench) start() {
	t := b.t
	t.Helper()
	st, closeState, err := registrar.OpenState(b.ctx, b.state)
	if err != nil {
		t.Fatal(err)
	}
	if b.loc == nil || b.state != "" { // memory state lives as long as the bench
		b.loc, b.dir, b.failures = st.Location, st.Directory, st.Failures
		if b.state == "" {
			b.failures = digest.NewMemoryFailures(b.clock.Now)
		}
	}
	st.Location, st.Directory, st.Failures = b.loc, b.dir, b.failures
	if b.wrapDir != nil {
		st.Directory = b.wrapDir(st.Directory)
	}
	r, err := registrar.New(b.cfg, registrar.Deps{NC: b.nc, JS: b.js, State: st, Log: testLogger(t), Now: b.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	b.reg = r
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(sctx)
		_ = closeState()
	})
}

// stop shuts the registrar down.
func (b *bench) stop() {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if err := b.reg.Shutdown(sctx); err != nil {
		b.t.Fatalf("Shutdown: %v", err)
	}
}

// ua is a user agent: one AOR, one Call-ID, its CSeq counting up.
type ua struct {
	b         *bench
	aor       string // alice@example.com
	callID    string
	cseq      uint32
	transport string
	flow      string
	remote    string // where its datagrams come from (ip:port)
	user, pw  string // digest credentials
	cnonce    string
	nc        map[string]uint32
}

func (b *bench) ua(aor string) *ua {
	user, _, _ := strings.Cut(aor, "@")
	return &ua{b: b, aor: aor, callID: bus.NewID() + "@192.0.2.4", cseq: 100, transport: "udp", remote: remote,
		user: user, cnonce: "0a4f113b", nc: map[string]uint32{}}
}

// message builds a REGISTER of u with the extra header lines, the next
// CSeq (or the one given with a "CSeq:" line).
func (u *ua) message(extra ...string) []byte {
	u.cseq++
	lines := []string{
		"REGISTER sip:" + domainOf(u.aor) + " SIP/2.0",
		"Via: SIP/2.0/" + strings.ToUpper(u.transport) + " 192.0.2.4:5060;branch=" + sipmsg.NewBranch() + ";rport",
		"Max-Forwards: 70",
		"To: <sip:" + u.aor + ">",
		"From: <sip:" + u.aor + ">;tag=" + sipmsg.NewTag(),
		"Call-ID: " + u.callID,
	}
	cseqLine := fmt.Sprintf("CSeq: %d REGISTER", u.cseq)
	for _, l := range extra {
		if strings.HasPrefix(l, "CSeq:") {
			cseqLine = l
		} else {
			lines = append(lines, l)
		}
	}
	lines = append(lines, cseqLine, "User-Agent: TestPhone/1.0", "Content-Length: 0", "", "")
	return []byte(strings.Join(lines, "\r\n"))
}

// send publishes raw as the edge would and returns the reply the
// registrar sent and the event that carried it.
func (u *ua) send(raw []byte) (*sipmsg.Msg, sent) {
	b := u.b
	b.t.Helper()
	m, key := u.publish(raw)
	out := b.edge.next(b.t)
	rep, err := sipmsg.Parse(out.Raw, framingOf(u.transport))
	if err != nil {
		b.t.Fatalf("reply does not parse: %v\n%s", err, out.Raw)
	}
	if rep.CallID() != m.CallID() {
		b.t.Fatalf("reply for Call-ID %q, want %q", rep.CallID(), m.CallID())
	}
	cs, _ := rep.CSeq()
	if want, _ := m.CSeq(); cs.Seq != want.Seq {
		b.t.Fatalf("reply for CSeq %d, want %d", cs.Seq, want.Seq)
	}
	if ck := sipmsg.CallKey(m.CallID()); out.TxKey != key || out.CallKey != ck || out.Source != "sipbus/registrar/"+b.cfg.ID {
		b.t.Errorf("reply event tx key %q call key %q source %q; want %q %q", out.TxKey, out.CallKey, out.Source, key, ck)
	}
	if err := events.ValidateSIP(out.SIP); err != nil {
		b.t.Errorf("reply event: %v", err)
	}
	return rep, out
}

// publish publishes raw as the edge would: a v2 request event on
// sip.<p>.in.req.REGISTER. It returns the request and its
// server transaction key.
func (u *ua) publish(raw []byte) (*sipmsg.Msg, string) {
	b := u.b
	b.t.Helper()
	m, err := sipmsg.Parse(raw, framingOf(u.transport))
	if err != nil {
		b.t.Fatalf("test REGISTER does not parse: %v\n%s", err, raw)
	}
	key, err := sipmsg.ServerTxKey(m)
	if err != nil {
		b.t.Fatal(err)
	}
	ck := sipmsg.CallKey(m.CallID())
	ev := &events.SIP{
		Type: events.TypeRequestReceived, ID: bus.NewID(), Source: "sipbus/edge/" + edgeID, Time: time.Now(), // the edge's clock
		CallKey: ck, Raw: raw, Transport: u.transport, Local: "192.0.2.10:5060", Remote: u.remote, Flow: u.flow, Edge: edgeID,
	}
	if _, err := b.js.PublishMsg(b.ctx, ev.Encode(bus.SubjectRequestIn("REGISTER", ck))); err != nil {
		b.t.Fatal(err)
	}
	return m, key
}

func framingOf(transport string) sipmsg.Framing {
	if transport != "udp" {
		return sipmsg.Stream
	}
	return sipmsg.Datagram
}

// register sends a REGISTER with the extra lines and returns the reply.
func (u *ua) register(extra ...string) *sipmsg.Msg {
	u.b.t.Helper()
	rep, _ := u.send(u.message(extra...))
	return rep
}

// login registers with digest authentication: a REGISTER without
// credentials, then the answer to the challenge of alg. It returns the
// final reply.
func (u *ua) login(alg string, extra ...string) *sipmsg.Msg {
	t := u.b.t
	t.Helper()
	rep := u.register(extra...)
	if rep.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials: %d %s; want 401", rep.StatusCode, rep.Str(rep.Reason))
	}
	ch := challengeOf(t, rep, alg)
	return u.register(append(extra, u.authorization(ch))...)
}

// authorization answers ch (RFC 7616 §3.4.1, qop=auth) with u's password
// for a REGISTER to sip:<domain>.
func (u *ua) authorization(ch map[string]string) string {
	u.nc[ch["nonce"]]++
	return u.authorizationNC(ch, u.nc[ch["nonce"]])
}

func (u *ua) authorizationNC(ch map[string]string, n uint32) string {
	alg := ch["algorithm"]
	uri := "sip:" + domainOf(u.aor)
	nc := fmt.Sprintf("%08x", n)
	ha1 := h(alg, u.user+":"+ch["realm"]+":"+u.pw)
	ha2 := h(alg, "REGISTER:"+uri)
	resp := h(alg, strings.Join([]string{ha1, ch["nonce"], nc, u.cnonce, "auth", ha2}, ":"))
	return fmt.Sprintf(`Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s"`,
		u.user, ch["realm"], ch["nonce"], uri, resp, alg, nc, u.cnonce)
}

func h(alg, s string) string {
	var f hash.Hash = md5.New()
	if alg == "SHA-256" {
		f = sha256.New()
	}
	f.Write([]byte(s))
	return hex.EncodeToString(f.Sum(nil))
}

var challengeParam = regexp.MustCompile(`([a-z]+)=(?:"([^"]*)"|([^,\s]+))`)

// challenges parses the WWW-Authenticate values of a 401, in order.
func challenges(t *testing.T, rep *sipmsg.Msg) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, v := range rep.Values(sipmsg.HWWWAuthenticate) {
		if !strings.HasPrefix(v, "Digest ") {
			t.Fatalf("challenge %q is not Digest", v)
		}
		ch := map[string]string{}
		for _, p := range challengeParam.FindAllStringSubmatch(v, -1) {
			ch[p[1]] = p[2] + p[3]
		}
		out = append(out, ch)
	}
	return out
}

func challengeOf(t *testing.T, rep *sipmsg.Msg, alg string) map[string]string {
	t.Helper()
	for _, ch := range challenges(t, rep) {
		if ch["algorithm"] == alg {
			return ch
		}
	}
	t.Fatalf("no %s challenge in\n%s", alg, rep.Raw)
	return nil
}

// contacts are the Contact values of a reply: URI -> expires.
func contacts(t *testing.T, rep *sipmsg.Msg) map[string]int {
	t.Helper()
	cs, err := rep.Contacts()
	if err != nil {
		t.Fatalf("reply Contacts: %v\n%s", err, rep.Raw)
	}
	out := map[string]int{}
	for _, c := range cs {
		out[c.URI.Raw] = c.Expires
	}
	return out
}

func status(rep *sipmsg.Msg) string {
	return fmt.Sprintf("%d %s", rep.StatusCode, rep.Str(rep.Reason))
}

func domainOf(aor string) string { return aor[strings.LastIndexByte(aor, '@')+1:] }

// sent is a message the registrar published for the edges, with the
// subject that names the edge to send it.
type sent struct {
	*events.SIP
	Subject string
}

// fakeEdge records the messages published for the edges (sip.*.out.>).
type fakeEdge struct {
	ch chan sent
}

func startEdge(t *testing.T, nc *nats.Conn) *fakeEdge {
	e := &fakeEdge{ch: make(chan sent, 64)}
	sub, err := nc.Subscribe("sip.*.out.>", func(m *nats.Msg) {
		s, err := events.DecodeSIP(m)
		if err != nil {
			t.Errorf("the registrar published a bad message for the edges: %v", err)
			return
		}
		e.ch <- sent{SIP: s, Subject: m.Subject}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return e
}

func (e *fakeEdge) next(t *testing.T) sent {
	t.Helper()
	select {
	case s := <-e.ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the registrar sent no reply within 10s")
	}
	return sent{}
}

// readEvents reads the reg.> events the stream stored (an ordered
// consumer: duplicates the stream dropped are not seen), validating each
// against its schema.
func readEvents(t *testing.T, ctx context.Context, js jetstream.JetStream) chan *bus.Event {
	ch := make(chan *bus.Event, 256)
	cons, err := js.OrderedConsumer(ctx, bus.DefaultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"reg.>"}})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := bus.Decode(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
		if err != nil {
			once.Do(func() { t.Errorf("reg event does not decode: %v", err) })
			return
		}
		if err := events.Validate(ev); err != nil {
			t.Errorf("reg event %s does not validate: %v\n%s", ev.NATSSubject, err, ev.Data)
		}
		ch <- ev
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return ch
}

// expect waits for len(kinds) reg events and checks their kinds in order
// (within one REGISTER the order is SortChanges': removed, refreshed,
// added); it returns their data.
func (b *bench) expect(kinds ...string) []events.RegContact {
	b.t.Helper()
	var out []events.RegContact
	for i, kind := range kinds {
		select {
		case ev := <-b.events:
			if want := "sipbus.reg.contact." + kind + ".v1"; ev.Type != want {
				b.t.Fatalf("event %d: type %s, want %s (%s)", i, ev.Type, want, ev.Data)
			}
			var rc events.RegContact
			if err := json.Unmarshal(ev.Data, &rc); err != nil {
				b.t.Fatal(err)
			}
			if ev.Subject != rc.AOR || ev.NATSSubject != bus.SubjectReg(kind, events.AORKey(rc.AOR)) {
				b.t.Errorf("event subject %q on %s for AOR %q", ev.Subject, ev.NATSSubject, rc.AOR)
			}
			out = append(out, rc)
		case <-time.After(10 * time.Second):
			b.t.Fatalf("no %s event within 10s (got %d of %v)", kind, i, kinds)
		}
	}
	return out
}

// quiet checks that no reg event arrives for d.
func (b *bench) quiet(d time.Duration) {
	b.t.Helper()
	select {
	case ev := <-b.events:
		b.t.Fatalf("unexpected event %s: %s", ev.Type, ev.Data)
	case <-time.After(d):
	}
}

// show returns the bindings of aor by the management API (nil on 404).
func (b *bench) show(aor string) []regapi.Binding {
	b.t.Helper()
	rep, err := b.api.ULShow(b.ctx, regapi.ULShowRequest{AOR: aor})
	if rep != nil && rep.Status == 404 {
		return nil
	}
	if err != nil {
		b.t.Fatalf("ul show %s: %v", aor, err)
	}
	return rep.Bindings
}

// addUser creates a subscriber by the management API.
func (b *bench) addUser(aor, pw string) {
	b.t.Helper()
	if _, err := b.api.UserAdd(b.ctx, regapi.UserAddRequest{AOR: aor, Password: pw}); err != nil {
		b.t.Fatalf("user add %s: %v", aor, err)
	}
}

// engines are the state engines the component tests run on.
var engines = []string{"memory", "redis"}

// stateURL is the OpenState URL of engine: "" (memory) or a private
// redis-server for t.
func stateURL(t *testing.T, engine string) string {
	if engine == "redis" {
		return testenv.RedisURL(t)
	}
	return ""
}
