package rebuild

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
)

// Change is one reg.contact.* event: its kind (bus.RegEventAdded, ...) and
// data.
type Change struct {
	Kind string
	C    events.RegContact
}

// Fold returns the bindings the changes leave live at now, sorted by AOR
// and contact. Changes must be in log order. A change that does not name
// a valid AOR and contact is skipped.
func Fold(changes []Change, now time.Time) []location.Binding {
	type key struct{ aor, contact string }
	cur := map[key]events.RegContact{}
	for _, ch := range changes {
		aor, err := location.ParseAOR(ch.C.AOR)
		if err != nil || ch.C.Contact == "" {
			continue
		}
		k := key{aor, ch.C.Contact}
		switch ch.Kind {
		case bus.RegEventAdded, bus.RegEventRefreshed:
			cur[k] = ch.C
		case bus.RegEventRemoved, bus.RegEventExpired:
			delete(cur, k)
		}
	}
	out := make([]location.Binding, 0, len(cur))
	for k, c := range cur {
		b := location.Binding{
			AOR: k.aor, Contact: c.Contact, Q: c.Q, Expires: c.ExpiresAt, CallID: c.CallID, CSeq: c.CSeq,
			Path: c.Path, UserAgent: c.UserAgent, Edge: c.Edge, Updated: c.At,
		}
		b.Received, b.Transport = received(c.Received)
		if !b.LiveAt(now) {
			continue
		}
		if b.Q < 0 || b.Q > 1 {
			b.Q = 1
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AOR != out[j].AOR {
			return out[i].AOR < out[j].AOR
		}
		return out[i].Contact < out[j].Contact
	})
	return out
}

// received turns the event's "sip:ip:port;transport=t" back into the
// location form "t:ip:port" (and the transport); "" when it is not that.
func received(uri string) (string, string) {
	rest, ok := strings.CutPrefix(uri, "sip:")
	if !ok {
		return "", ""
	}
	addr, params, _ := strings.Cut(rest, ";")
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return "", ""
	}
	tr := "udp"
	for _, p := range strings.Split(params, ";") {
		if v, ok := strings.CutPrefix(strings.ToLower(p), "transport="); ok && events.IsTransport(v) {
			tr = v
		}
	}
	return tr + ":" + ap.String(), tr
}

// Report says what Rebuild did.
type Report struct {
	Events   int                `json:"events"`   // reg.contact.* events read
	Live     int                `json:"live"`     // bindings the log leaves live now
	Restored []location.Binding `json:"restored"` // written back
	Kept     int                `json:"kept"`     // already in the store: left as they are
	DryRun   bool               `json:"dry_run,omitempty"`
}

// Options of Rebuild.
type Options struct {
	Stream string    // default bus.DefaultStream
	Since  time.Time // zero: the whole stream
	Now    time.Time // zero: time.Now()
	DryRun bool      // read and fold, write nothing
}

// Rebuild reads every reg.contact.* event of the stream, folds them and
// writes the live bindings missing from st.
func Rebuild(ctx context.Context, js jetstream.JetStream, st location.Store, opt Options) (*Report, error) {
	if opt.Stream == "" {
		opt.Stream = bus.DefaultStream
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	changes, err := read(ctx, js, opt.Stream, opt.Since)
	if err != nil {
		return nil, err
	}
	live := Fold(changes, opt.Now)
	rep := &Report{Events: len(changes), Live: len(live), DryRun: opt.DryRun, Restored: []location.Binding{}}
	for _, b := range live {
		have, err := st.Lookup(ctx, b.AOR, opt.Now)
		if err != nil && !errors.Is(err, location.ErrNotFound) {
			return rep, fmt.Errorf("rebuild: lookup %s: %w", b.AOR, err)
		}
		if holds(have, b.Contact) {
			rep.Kept++
			continue
		}
		if !opt.DryRun {
			if err := st.Add(ctx, b); err != nil {
				return rep, fmt.Errorf("rebuild: add %s %s: %w", b.AOR, b.Contact, err)
			}
		}
		rep.Restored = append(rep.Restored, b)
	}
	return rep, nil
}

func holds(bs []location.Binding, contact string) bool {
	for _, b := range bs {
		if location.SameContact(b.Contact, contact) {
			return true
		}
	}
	return false
}

// read returns the reg.contact.* changes of the stream, in order.
func read(ctx context.Context, js jetstream.JetStream, stream string, since time.Time) ([]Change, error) {
	var out []Change
	_, err := bus.Read(ctx, js, stream, "reg.contact.>", since, func(m *nats.Msg) error {
		if ch, ok := Decode(m); ok {
			out = append(out, ch)
		}
		return nil
	})
	if err != nil && !errors.Is(err, bus.ErrReadStalled) {
		return nil, fmt.Errorf("rebuild: stream %s: %w", stream, err)
	}
	return out, nil
}

// Decode reads one reg.contact.<kind>.<p> event; ok is false for
// anything else.
func Decode(m *nats.Msg) (Change, bool) {
	t := strings.Split(m.Subject, ".")
	if len(t) != 4 || t[0] != "reg" || t[1] != "contact" {
		return Change{}, false
	}
	ev, err := bus.Decode(m)
	if err != nil {
		return Change{}, false
	}
	var c events.RegContact
	if err := bus.DecodeJSON(ev.Data, &c); err != nil {
		return Change{}, false
	}
	switch t[2] {
	case bus.RegEventAdded, bus.RegEventRefreshed, bus.RegEventRemoved, bus.RegEventExpired:
		return Change{Kind: t[2], C: c}, true
	}
	return Change{}, false
}
