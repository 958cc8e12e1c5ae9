package app

import (
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/events"
)

// missedEvents returns the call.missed events emitted so far.
func (h *harness) missedEvents() []*events.CallMissed {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*events.CallMissed
	for _, em := range h.emits {
		if m, ok := em.Data.(*events.CallMissed); ok {
			out = append(out, m)
		}
	}
	return out
}

// The notifier's input: one call.missed per call, whatever its branches,
// with the reason of its final status (603: declined), the Request-URI tm
// routed on, and network party fields cut to the schema's limits.
func TestCallMissedForTheNotifier(t *testing.T) {
	fork := locator{"bob@example.com": {{URI: "sip:bob@203.0.113.5:5060", Q: 1}, {URI: "sip:bob@203.0.113.6:5060", Q: 1}}}
	t.Run("603 declined", func(t *testing.T) {
		h := newHarness(t, "", bob)
		h.request(invite(60, "sip:bob@example.com"))
		h.respond(only(t, h.take(), "INVITE"), 603, "b60")
		h.take() // the hop-by-hop ACK and the 603 upstream
		ms := h.missedEvents()
		if len(ms) != 1 || ms[0].Reason != events.MissedDeclined || ms[0].Status != 603 || ms[0].RequestURI != "sip:bob@example.com" || !ms[0].LocalUser {
			t.Errorf("call.missed %+v", ms)
		}
	})
	t.Run("forked, both busy", func(t *testing.T) {
		h := newHarness(t, "", fork)
		h.request(invite(61, "sip:bob@example.com"))
		reqs := h.take()
		if len(reqs) != 2 {
			t.Fatalf("%d branches, want 2", len(reqs))
		}
		h.respond(reqs[0], 486, "b61a")
		h.respond(reqs[1], 486, "b61b")
		h.take()
		if ms := h.missedEvents(); len(ms) != 1 || ms[0].Reason != events.MissedBusy {
			t.Errorf("call.missed %+v, want one, busy", ms)
		}
	})
	t.Run("rejected has the Request-URI", func(t *testing.T) {
		h := newHarness(t, "", bob)
		h.request(invite(62, "sip:carol@example.com"))
		h.take()
		if ms := h.missedEvents(); len(ms) != 1 || ms[0].Reason != events.MissedRejected || ms[0].RequestURI != "sip:carol@example.com" {
			t.Errorf("call.missed %+v", ms)
		}
	})
	t.Run("10 kB display name", func(t *testing.T) {
		h := newHarness(t, "", bob)
		h.request(strings.Replace(invite(63, "sip:carol@example.com"), `"Alice"`, `"`+strings.Repeat("A", 10240)+`"`, 1))
		h.take()
		if ms := h.missedEvents(); len(ms) != 1 || len(ms[0].Caller.Display) != maxDisplay {
			t.Errorf("display of %d bytes, want %d", len(ms[0].Caller.Display), maxDisplay)
		}
	})
}
