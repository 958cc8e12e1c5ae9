package notifier_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/notifyapi"
	"github.com/sipbus/sipbus/pkg/testenv"
)

var alice = events.Party{Display: "Alice Liddell", URI: "sip:alice@example.com"}

// TestMailOnce: a missed call gives one mail with the agreed headers and
// content; the same event delivered again (republished by another
// producer, a second replica) gives no second mail.
func TestMailOnce(t *testing.T) {
	b := newBench(t)
	n := b.start(b.config("n1"))
	id := b.missed("bob@localhost", alice, events.MissedBusy, 486)
	msgID := "mail." + id + "@example.net"
	got := b.mailsFor(msgID, 1, 0)[0]
	if got.Subject != "Missed call from Alice Liddell (was busy)" {
		t.Errorf("subject %q", got.Subject)
	}
	if len(got.To) != 1 || got.To[0].Address != "bob@example.com" || got.To[0].Name != "Bob" || len(got.Cc)+len(got.Bcc) != 0 {
		t.Errorf("recipients To %v Cc %v Bcc %v, want Bob <bob@example.com> alone", got.To, got.Cc, got.Bcc)
	}
	if got.From == nil || got.From.Address != "sipbus@example.net" {
		t.Errorf("from %+v", got.From)
	}
	full := b.mp.Message(t, got.ID)
	for _, want := range []string{"From:   Alice Liddell <sip:alice@example.com>", "was busy. You were busy.",
		"(Europe/Paris)", "Call back: sip:alice@example.com"} {
		if !strings.Contains(full.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, full.Text)
		}
	}
	if !strings.Contains(full.HTML, `<a href="sip:alice@example.com">`) {
		t.Errorf("HTML part has no call-back link:\n%s", full.HTML)
	}
	h, _ := headers(t, b.mp.Raw(t, got.ID))
	if h.Get("X-Sipbus-Event") != id || h.Get("X-Sipbus-Key") != "mail."+id || h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers %v", h)
	}

	// The same event again, twice: no new mail.
	var m events.CallMissed
	evs := b.streamEvents("call.missed.>")
	if err := json.Unmarshal(evs[0].Data, &m); err != nil {
		t.Fatal(err)
	}
	b.redeliver(evs[0].NATSSubject, &m, id)
	b.redeliver(evs[0].NATSSubject, &m, id)
	testenv.Eventually(t, 10*time.Second, func() bool { return n.Stats().Duplicates >= 2 }, "duplicates counted: %+v\n%s", n.Stats(), b.logs)
	if got := b.mp.ByMessageID(t, msgID); len(got) != 1 {
		t.Errorf("%d mails after redelivery, want 1", len(got))
	}
}

// TestNoMail: callees without a mail to get: no subscriber, no e-mail
// address, opted out, disabled.
func TestNoMail(t *testing.T) {
	b := newBench(t)
	n := b.start(b.config("n1"))
	b.addUser("noemail@localhost", "", "", "")
	b.addUser("optout@localhost", "", "optout@example.com", "")
	s, _ := b.dir.Get(b.ctx, "optout@localhost")
	s.MissedCallOptOut = true
	if err := b.dir.Update(b.ctx, s); err != nil {
		t.Fatal(err)
	}
	b.addUser("off@localhost", "", "off@example.com", "")
	s, _ = b.dir.Get(b.ctx, "off@localhost")
	s.Enabled = false
	_ = b.dir.Update(b.ctx, s)
	for _, callee := range []string{"stranger@localhost", "noemail@localhost", "optout@localhost", "off@localhost"} {
		b.missed(callee, alice, events.MissedOffline, 480)
	}
	b.missed("bob@localhost", alice, events.MissedOffline, 480) // the control: it is mailed
	testenv.Eventually(t, 20*time.Second, func() bool { return n.Stats().Sent == 1 && n.Stats().Skipped == 4 }, "stats %+v", n.Stats())
	if msgs := b.mp.Messages(t); len(msgs) != 1 || msgs[0].To[0].Address != "bob@example.com" {
		t.Errorf("mails %+v, want bob's only", msgs)
	}
}

// TestReasons: each reason in words, in the subject and the text.
func TestReasons(t *testing.T) {
	b := newBench(t)
	b.start(b.config("n1"))
	for reason, words := range map[string]string{
		events.MissedOffline: "was offline", events.MissedBusy: "was busy", events.MissedNoAnswer: "did not answer",
		events.MissedCancelled: "caller hung up", events.MissedDeclined: "declined",
	} {
		id := b.missed("bob@localhost", alice, reason, 486)
		got := b.mailsFor("mail."+id+"@example.net", 1, 0)[0]
		if !strings.HasSuffix(got.Subject, "("+words+")") {
			t.Errorf("%s: subject %q, want it to end with (%s)", reason, got.Subject, words)
		}
	}
}

// TestTemporaryFailure: the server answers 451 to MAIL FROM for a while;
// the mail is retried with backoff and arrives once when it stops.
func TestTemporaryFailure(t *testing.T) {
	b := newBench(t)
	cfg := b.config("n1")
	cfg.MaxDeliver = 100
	n := b.start(cfg)
	b.mp.SetChaos(t, testenv.Chaos{Sender: testenv.ChaosTrigger{ErrorCode: 451, Probability: 100}})
	id := b.missed("bob@localhost", alice, events.MissedBusy, 486)
	testenv.Eventually(t, 20*time.Second, func() bool { return n.Stats().Temporary >= 3 }, "three temporary failures: %+v", n.Stats())
	if len(b.mp.Messages(t)) != 0 {
		t.Fatal("a mail went through the chaos")
	}
	b.mp.SetChaos(t, testenv.Chaos{})
	b.mailsFor("mail."+id+"@example.net", 1, 2*time.Second)
	if s := n.Stats(); s.Sent != 1 || s.DeadLettered != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestDeadLetterAndRetry: a 550 dead-letters the notification at once
// (sipbus.notify.failed.v1, valid against its schema); `failed` lists it;
// `retry` sends it once the server takes it, with the same Message-ID;
// then `failed` no longer lists it and a second retry is refused.
func TestDeadLetterAndRetry(t *testing.T) {
	b := newBench(t)
	n := b.start(b.config("n1"))
	b.mp.SetChaos(t, testenv.Chaos{Recipient: testenv.ChaosTrigger{ErrorCode: 550, Probability: 100}})
	id := b.missed("bob@localhost", alice, events.MissedNoAnswer, 408)
	testenv.Eventually(t, 20*time.Second, func() bool { return n.Stats().DeadLettered == 1 }, "dead letter: %+v\n%s", n.Stats(), b.logs)
	evs := b.streamEvents("notify.failed.>")
	if len(evs) != 1 {
		t.Fatalf("%d notify.failed events", len(evs))
	}
	if err := events.Validate(evs[0]); err != nil {
		t.Error(err)
	}
	var nf events.NotifyFailed
	_ = json.Unmarshal(evs[0].Data, &nf)
	if nf.Kind != events.NotifyMail || !nf.Permanent || nf.Code != 550 || nf.MessageID != "mail."+id+"@example.net" ||
		nf.To != "bob@example.com" || nf.Event == nil || nf.Event.ID != id || evs[0].NATSSubject != "notify.failed."+nf.ID {
		t.Errorf("failure %s on %s", mustJSON(nf), evs[0].NATSSubject)
	}

	list, err := b.api.Failed(b.ctx, notifyapi.FailedRequest{})
	if err != nil || len(list.Failed) != 1 || list.Failed[0].ID != nf.ID {
		t.Fatalf("failed: %+v %v", list, err)
	}
	// Still refused: 502, and a second dead letter.
	if rep, err := b.api.Retry(b.ctx, notifyapi.RetryRequest{ID: nf.ID}); err == nil || rep.Status != 502 {
		t.Fatalf("retry under chaos: %+v %v", rep, err)
	}
	b.mp.SetChaos(t, testenv.Chaos{})
	rep, err := b.api.Retry(b.ctx, notifyapi.RetryRequest{ID: nf.ID})
	if err != nil || rep.MessageID != nf.MessageID {
		t.Fatalf("retry: %+v %v", rep, err)
	}
	b.mailsFor(nf.MessageID, 1, time.Second)
	if list, err := b.api.Failed(b.ctx, notifyapi.FailedRequest{}); err != nil || len(list.Failed) != 0 {
		t.Errorf("failed after a successful retry: %+v %v", list, err)
	}
	if rep, err := b.api.Retry(b.ctx, notifyapi.RetryRequest{ID: nf.ID}); err == nil || rep.Status != 409 {
		t.Errorf("second retry: %+v %v, want 409", rep, err)
	}
	for _, tc := range []struct {
		id     string
		status int
	}{{"nf-0000000000000000", 404}, {"bogus", 400}, {"", 400}} {
		if rep, err := b.api.Retry(b.ctx, notifyapi.RetryRequest{ID: tc.id}); err == nil || rep.Status != tc.status {
			t.Errorf("retry %q: %+v %v, want %d", tc.id, rep, err, tc.status)
		}
	}
}

// TestRateLimit: with at most 2 mails per window, 6 calls give 2 mails and
// one digest "And 4 more missed calls" when the window ends.
func TestRateLimit(t *testing.T) {
	b := newBench(t)
	cfg := b.config("n1")
	cfg.RateLimit, cfg.RateWindow = 2, 4*time.Second
	n := b.start(cfg)
	// Start right after a window begins, so all six fall in one.
	time.Sleep(time.Until(time.Now().Truncate(cfg.RateWindow).Add(cfg.RateWindow + 100*time.Millisecond)))
	var ids []string
	for range 6 {
		ids = append(ids, b.missed("bob@localhost", alice, events.MissedBusy, 486))
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return n.Stats().Digests == 1 }, "digest: %+v\n%s", n.Stats(), b.logs)
	time.Sleep(time.Second)
	msgs := b.mp.Messages(t)
	var subjects []string
	for _, m := range msgs {
		subjects = append(subjects, m.Subject)
	}
	slices.Sort(subjects)
	want := []string{"And 4 more missed calls", "Missed call from Alice Liddell (was busy)", "Missed call from Alice Liddell (was busy)"}
	if !slices.Equal(subjects, want) {
		t.Fatalf("subjects %q, want %q", subjects, want)
	}
	if s := n.Stats(); s.Sent != 3 || s.Folded != 4 {
		t.Errorf("stats %+v", s)
	}
	for _, m := range msgs {
		if strings.HasPrefix(m.Subject, "And") {
			text := b.mp.Message(t, m.ID).Text
			if strings.Count(text, "Alice Liddell <sip:alice@example.com>: was busy") != 4 {
				t.Errorf("digest text:\n%s", text)
			}
		}
	}
}

// streamEvents reads every event on filter from the stream.
func (b *bench) streamEvents(filter string) []*bus.Event {
	b.t.Helper()
	cons, err := b.js.OrderedConsumer(b.ctx, bus.DefaultStream, jetstreamOrdered(filter))
	if err != nil {
		b.t.Fatal(err)
	}
	var out []*bus.Event
	for {
		m, err := cons.Next(jetstreamWait(500 * time.Millisecond))
		if err != nil {
			return out
		}
		ev, err := bus.Decode(natsMsg(m))
		if err != nil {
			b.t.Fatal(err)
		}
		out = append(out, ev)
	}
}
