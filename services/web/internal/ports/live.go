package ports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/services/web/internal/app"
)

// Subjects the hub listens to (plain NATS subscriptions: every replica
// sees every event, for the browsers connected to it).
// (bus.SubjectReg and bus.SubjectCall make tokens safe, wildcards too, so
// the filters are written out.)
const (
	SubjectRegAll    = "reg.contact.*.*"
	SubjectCallMiss  = "call." + bus.CallEventMissed + ".*"
	SubjectCallEnded = "call." + bus.CallEventEnded + ".*"
)

// SSE limits.
const (
	SSEKeepAlive = 15 * time.Second
	SSEMax       = 15 * time.Minute // then the browser reconnects
)

// note is what the hub tells a stream: bindings changed, or a history line.
type note struct {
	call *app.Call // nil: the bindings changed
}

// Hub fans reg.contact.* and call.* events out to the streams of the
// users they concern. It subscribes only while a stream is open: every
// REGISTER and every call makes an event, and a replica no browser
// watches would otherwise receive and decode each one for nobody (at
// 4,000 REGISTER/s that was 5 % of `sipbus up`'s CPU).
type Hub struct {
	Log *slog.Logger

	mu      sync.Mutex                        // also held across the first stream's subscribe and flush
	subs    map[string]map[chan note]struct{} // user -> open streams; empty: no subscription
	nc      *nats.Conn
	nsubs   []*nats.Subscription
	stopped bool
}

// Start makes the hub subscribe on nc while streams are open.
func (h *Hub) Start(nc *nats.Conn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nc, h.stopped = nc, false
	return nil
}

// Stop unsubscribes; streams opened later get no events.
func (h *Hub) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	h.unsubscribe()
}

// Subscribed reports whether the hub holds its subscriptions (a stream is
// open).
func (h *Hub) Subscribed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.nsubs) > 0
}

// subscribe makes the subscriptions and returns once the server has them,
// so no event after it is missed. Under mu.
func (h *Hub) subscribe() error {
	for _, subj := range []string{SubjectRegAll, SubjectCallMiss, SubjectCallEnded} {
		s, err := h.nc.Subscribe(subj, h.onMsg)
		if err != nil {
			h.unsubscribe()
			return fmt.Errorf("web: subscribe %s: %w", subj, err)
		}
		h.nsubs = append(h.nsubs, s)
	}
	if err := h.nc.FlushTimeout(5 * time.Second); err != nil {
		h.unsubscribe()
		return fmt.Errorf("web: subscribe: %w", err)
	}
	return nil
}

// unsubscribe drops the subscriptions. Under mu.
func (h *Hub) unsubscribe() {
	for _, s := range h.nsubs {
		_ = s.Unsubscribe()
	}
	h.nsubs = nil
}

func (h *Hub) onMsg(m *nats.Msg) {
	ev, err := bus.Decode(m)
	if err != nil {
		h.Log.Debug("web: undecodable event", "subject", m.Subject, "err", err)
		return
	}
	switch ev.Type {
	case events.TypeRegContactAdded, events.TypeRegContactRefreshed, events.TypeRegContactRemoved, events.TypeRegContactExpired:
		var rc events.RegContact
		if err := json.Unmarshal(ev.Data, &rc); err != nil {
			h.Log.Debug("web: undecodable binding event", "subject", m.Subject, "err", err)
			return
		}
		// The registrar writes the AOR as a URI ("sip:alice@example.com"):
		// streams are keyed by the canonical "user@domain".
		if aor, err := location.ParseAOR(rc.AOR); err == nil {
			h.notify(aor, note{})
		}
	default:
		for _, l := range linesOf(ev) {
			if aor, err := location.ParseAOR(l.UserURI); err == nil {
				c := l.Call
				h.notify(aor, note{call: &c})
			}
		}
	}
}

// linesOf decodes a call.missed or call.ended event into history lines.
func linesOf(ev *bus.Event) []app.Line {
	switch ev.Type {
	case events.TypeCallMissed:
		var d events.CallMissed
		if bus.DecodeJSON(ev.Data, &d) == nil {
			return app.FromMissed(&d)
		}
	case events.TypeCallEnded:
		var d events.CallEnded
		if bus.DecodeJSON(ev.Data, &d) == nil {
			return app.FromEnded(&d)
		}
	}
	return nil
}

func (h *Hub) notify(aor string, n note) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[aor] {
		select {
		case ch <- n:
		default: // a slow browser misses a note; bindings are re-read on the next
		}
	}
}

// listen opens a stream for aor; the first open stream subscribes the
// hub, and the returned func closes it (the last one unsubscribes).
func (h *Hub) listen(aor string) (chan note, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.nsubs) == 0 && h.nc != nil && !h.stopped {
		if err := h.subscribe(); err != nil {
			return nil, nil, err
		}
	}
	ch := make(chan note, 16)
	if h.subs == nil {
		h.subs = map[string]map[chan note]struct{}{}
	}
	if h.subs[aor] == nil {
		h.subs[aor] = map[chan note]struct{}{}
	}
	h.subs[aor][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[aor], ch)
		if len(h.subs[aor]) == 0 {
			delete(h.subs, aor)
		}
		if len(h.subs) == 0 {
			h.unsubscribe()
		}
	}, nil
}

// events streams the user's bindings (event "bindings": the whole list,
// at once and after each change) and new history lines (event "call").
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, r, http.StatusInternalServerError, "", "streaming unsupported")
		return
	}
	aor := target(r)
	ch, stop, err := s.Hub.listen(aor)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "", "live events unavailable")
		return
	}
	defer stop()
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	ctx, cancel := context.WithTimeout(r.Context(), SSEMax)
	defer cancel()
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		fl.Flush()
		return err == nil
	}
	bindings := func() bool {
		bs, err := s.Locations.Lookup(ctx, aor, s.Now())
		if err != nil {
			return !errors.Is(err, context.Canceled)
		}
		return send("bindings", app.ShowBindings(bs, s.Now()))
	}
	if !bindings() {
		return
	}
	keep := time.NewTicker(SSEKeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keep.C:
			// A stream outlives no session: signed out, password changed,
			// disabled: it ends at the next keep-alive.
			if _, ok := s.Sessions.Session(r); !ok {
				return
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case n := <-ch:
			ok := true
			if n.call != nil {
				ok = send("call", n.call)
			} else {
				ok = bindings()
			}
			if !ok {
				return
			}
		}
	}
}

// HistoryHandler is the durable consumer's handler: it keeps each call's
// lines in the histories of the local subscribers it concerns (a URI that
// names no subscriber is skipped; Histories.Record checks, in the round
// trip of its write). A redelivered event adds nothing.
func (s *Server) HistoryHandler(ctx context.Context, ev *bus.Event) error {
	lines := linesOf(ev)
	if lines == nil {
		return bus.Permanent(fmt.Errorf("web: event %s of type %s is not a call.missed or call.ended", ev.ID, ev.Type))
	}
	_, err := s.History.Record(ctx, lines, s.Cfg.HistoryLen, s.Cfg.HistoryTTL)
	return err
}
