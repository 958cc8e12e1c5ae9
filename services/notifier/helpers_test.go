package notifier_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/notifyapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/notifier"
)

// bench is a notifier on a real NATS, Redis and Mailpit.
type bench struct {
	t    *testing.T
	ctx  context.Context
	nc   *nats.Conn
	js   jetstream.JetStream
	pub  *bus.Publisher
	mp   *testenv.Mailpit
	dir  subscriber.Directory
	st   notifier.State
	url  string // redis
	logs *syncBuffer
	api  *notifyapi.Client
	n    []*notifier.Notifier
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newBench starts NATS, Redis and Mailpit and provisions bob.
func newBench(t *testing.T) *bench {
	t.Helper()
	ns := testenv.NATS(t)
	nc, js := testenv.Connect(t, ns.ClientURL())
	ctx := testenv.Context(t, 3*time.Minute)
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	url := testenv.RedisURL(t)
	dir, st, closeState, err := notifier.OpenState(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeState() })
	b := &bench{t: t, ctx: ctx, nc: nc, js: js, mp: testenv.StartMailpit(t), dir: dir, st: st, url: url,
		pub: bus.NewPublisher(js, "sipbus/tm/test", bus.PublisherOptions{}), logs: &syncBuffer{},
		api: &notifyapi.Client{NC: nc, Timeout: 30 * time.Second}}
	b.addUser("bob@localhost", "Bob", "bob@example.com", "Europe/Paris")
	return b
}

func (b *bench) addUser(aor, name, email, tz string) {
	b.t.Helper()
	if err := b.dir.Add(b.ctx, subscriber.Subscriber{AOR: aor, Name: name, Email: email, Enabled: true, TZ: tz}); err != nil {
		b.t.Fatal(err)
	}
}

// config is a notifier config for tests: Mailpit without TLS, short
// retries.
func (b *bench) config(id string) notifier.Config {
	c := notifier.DefaultConfig()
	c.ID = id
	c.SMTP = "smtp://" + b.mp.SMTP + "?tls=none"
	c.From = "sipbus <sipbus@example.net>"
	c.SMTPTimeout = 3 * time.Second
	c.Lease = 15 * time.Second
	c.Backoff = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, time.Second}
	c.MaxDeliver = 8
	c.AckWait = 2 * time.Second
	c.DigestPoll = 100 * time.Millisecond
	return c
}

// start runs a notifier with cfg until the test ends.
func (b *bench) start(cfg notifier.Config) *notifier.Notifier {
	b.t.Helper()
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := notifier.New(cfg, notifier.Deps{NC: b.nc, JS: b.js, Directory: b.dir, State: b.st, Log: log})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := n.Start(b.ctx); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	b.n = append(b.n, n)
	return n
}

var seq int

// missed publishes a call.missed event for callee from caller and returns
// its id.
func (b *bench) missed(callee string, caller events.Party, reason string, status int) string {
	b.t.Helper()
	seq++
	callID := fmt.Sprintf("call-%d-%d@test", time.Now().UnixNano(), seq)
	ck := sipmsg.CallKey(callID)
	now := time.Now().UTC()
	m := &events.CallMissed{CallID: callID, CallKey: ck, Caller: caller, Callee: events.Party{URI: "sip:" + callee},
		StartedAt: now.Add(-5 * time.Second), EndedAt: now, Reason: reason, Status: status, LocalUser: true,
		RequestURI: "sip:" + callee}
	id := "call.terminal." + ck + "." + fmt.Sprintf("%016x", seq)
	b.publish(id, m)
	return id
}

func (b *bench) publish(id string, m *events.CallMissed) {
	b.t.Helper()
	ev, err := bus.NewEvent(id, m.CallID, m.CallKey, m)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.pub.PublishSync(b.ctx, bus.SubjectCall(bus.CallEventMissed, m.CallKey), ev); err != nil {
		b.t.Fatal(err)
	}
}

// redeliver publishes the event id again under another Nats-Msg-Id, as a
// second producer (or a replay) would: the stream stores it, the
// notifier's consumer delivers it.
func (b *bench) redeliver(subject string, m *events.CallMissed, id string) {
	b.t.Helper()
	ev, _ := bus.NewEvent(id, m.CallID, m.CallKey, m)
	ev.Source, ev.Time = "sipbus/tm/other", time.Now()
	msg := bus.Encode(subject, ev)
	seq++
	msg.Header.Set(nats.MsgIdHdr, fmt.Sprint(id, "-again-", seq))
	if _, err := b.js.PublishMsg(b.ctx, msg); err != nil {
		b.t.Fatal(err)
	}
}

// mailsFor waits until Mailpit holds n mails with Message-ID id (and, for
// settle, that no more arrive), and returns them.
func (b *bench) mailsFor(id string, n int, settle time.Duration) []testenv.Message {
	b.t.Helper()
	testenv.Eventually(b.t, 30*time.Second, func() bool { return len(b.mp.ByMessageID(b.t, id)) >= n },
		"%d mail(s) with Message-ID %s; mailpit holds %d; notifier log:\n%s", n, id, len(b.mp.Messages(b.t)), b.logs)
	time.Sleep(settle)
	got := b.mp.ByMessageID(b.t, id)
	if len(got) != n {
		b.t.Fatalf("%d mails with Message-ID %s, want %d", len(got), id, n)
	}
	return got
}

// headers parses the raw header block of a mail.
func headers(t *testing.T, raw []byte) (mail.Header, []string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("raw message does not parse: %v\n%s", err, raw)
	}
	var names []string
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		names = append(names, strings.ToLower(name))
	}
	return msg.Header, names
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func jetstreamOrdered(filter string) jetstream.OrderedConsumerConfig {
	return jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}}
}

func jetstreamWait(d time.Duration) jetstream.FetchOpt { return jetstream.FetchMaxWait(d) }

func natsMsg(m jetstream.Msg) *nats.Msg {
	return &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
}

// on is the bench for subtest t.
func (b *bench) on(t *testing.T) *bench {
	c := *b
	c.t = t
	return &c
}
