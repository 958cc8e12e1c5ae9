package replay

import (
	"context"
	"encoding/json"
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
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// ErrUnknownCall: the stream holds no event of the call.
var ErrUnknownCall = errors.New("replay: no event of this call in the stream")

// Item is one event of a call, in stream order.
type Item struct {
	Seq  uint64
	At   time.Time
	Msg  *nats.Msg   // the stored message (--json)
	SIP  *events.SIP // a SIP message event, or nil
	Call *bus.Event  // a call.* event, or nil

	// A SIP message: where it went (ip:port), its transport, and its
	// one-line label ("INVITE", "180 Ringing").
	From, To  string
	Transport string
	Label     string
}

// Call is one call read from the log.
type Call struct {
	Arg     string // what was asked for
	CallKey string
	CallID  string // from the first SIP message or call event
	Items   []Item
}

// IsCallKey reports whether s has the form of a call key (16 lower-case
// hex digits).
func IsCallKey(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Read reads the call named by arg (a Call-ID or a call key) from stream,
// from since (zero: the start of the stream).
func Read(ctx context.Context, js jetstream.JetStream, stream, arg string, since time.Time) (*Call, error) {
	if arg == "" {
		return nil, errors.New("replay: a Call-ID or call key is required")
	}
	c := &Call{Arg: arg}
	callID := arg
	if IsCallKey(arg) {
		c.CallKey, callID = arg, ""
	} else {
		c.CallKey = sipmsg.CallKey(arg)
	}
	msgs, err := readFiltered(ctx, js, stream, bus.CallFilter(c.CallKey), c.CallKey, since)
	if err != nil {
		return nil, err
	}
	for _, jm := range msgs {
		it, ok := decode(jm, callID)
		if !ok {
			continue
		}
		if c.CallID == "" {
			c.CallID = itemCallID(&it)
		}
		c.Items = append(c.Items, it)
	}
	if len(c.Items) == 0 {
		return nil, fmt.Errorf("%w: %q (call key %s)", ErrUnknownCall, arg, c.CallKey)
	}
	place(c.Items)
	sortByTime(c.Items)
	return c, nil
}

// readFiltered returns every message of the stream matching filters, as
// the stream held them when it started; with a callKey, only those whose
// callkey attribute is that (the filters select its partition).
func readFiltered(ctx context.Context, js jetstream.JetStream, stream string, filters []string, callKey string, since time.Time) ([]jetstream.Msg, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("replay: stream %s: %w", stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("replay: stream %s: %w", stream, err)
	}
	want := info.NumPending
	var out []jetstream.Msg
	for read := uint64(0); read < want; {
		batch, err := cons.Fetch(int(min(want-read, 256)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("replay: read: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if callKey == "" || bus.CallKeyOf(m.Headers()) == callKey {
				out = append(out, m)
			}
		}
		read += uint64(n)
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("replay: read: %w", err)
		}
		if n == 0 {
			break // the stream lost messages (retention) while reading
		}
	}
	return out, nil
}

// decode makes an Item of a stored message; ok is false for a message of
// another Call-ID (callID "" keeps all) or one that is not an event.
func decode(jm jetstream.Msg, callID string) (Item, bool) {
	nm := &nats.Msg{Subject: jm.Subject(), Header: jm.Headers(), Data: jm.Data()}
	it := Item{Msg: nm}
	if md, err := jm.Metadata(); err == nil {
		it.Seq, it.At = md.Sequence.Stream, md.Timestamp
	}
	return decodeMsg(nm, it, callID)
}

func decodeMsg(nm *nats.Msg, it Item, callID string) (Item, bool) {
	if nm.Header.Get(bus.HeaderContentType) == events.ContentTypeSIP {
		s, err := events.DecodeSIP(nm)
		if err != nil {
			return it, false
		}
		m, perr := parse(s.Raw)
		if callID != "" && (perr != nil || m.CallID() != callID) {
			return it, false
		}
		it.SIP = s
		if !s.Time.IsZero() {
			it.At = s.Time
		}
		it.Label = label(m, perr, s)
		return it, true
	}
	ev, err := bus.Decode(nm)
	if err != nil || !strings.HasPrefix(nm.Subject, "call.") {
		return it, false
	}
	if callID != "" && ev.Subject != "" && ev.Subject != callID {
		return it, false
	}
	it.Call = ev
	if !ev.Time.IsZero() {
		it.At = ev.Time
	}
	return it, true
}

func parse(raw []byte) (*sipmsg.Msg, error) {
	m, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		m, err = sipmsg.Parse(raw, sipmsg.Stream)
	}
	return m, err
}

// label is "INVITE", "180 Ringing" (quoted when it holds anything but
// printable ASCII), or the first bytes of an unparseable message.
func label(m *sipmsg.Msg, err error, s *events.SIP) string {
	var l string
	switch {
	case err != nil:
		first, _, _ := strings.Cut(string(s.Raw), "\n")
		l = "? " + clip(first, 24)
	case m.Request:
		l = m.Str(m.Method)
	default:
		l = fmt.Sprintf("%d %s", m.StatusCode, m.Str(m.Reason))
	}
	if s.Type == events.TypeMessageRejected {
		l += fmt.Sprintf(" (rejected: %d %s)", s.Status, s.Reason)
	}
	return safe(l)
}

// itemCallID is the Call-ID an item names.
func itemCallID(it *Item) string {
	if it.SIP != nil {
		if m, err := parse(it.SIP.Raw); err == nil {
			return m.CallID()
		}
		return ""
	}
	if it.Call.Subject != "" {
		return it.Call.Subject
	}
	var d struct {
		CallID string `json:"call_id"`
	}
	_ = json.Unmarshal(it.Call.Data, &d)
	return d.CallID
}

// sortByTime orders items by their time, the log's order where times
// tie: a received message at the edge's receive time, a sent one when it
// was published (its ce-time; the stream's time for an event without
// one: in `sipbus up` the stream stores a message a linger after it was
// sent, see bus.Local), a call event when tm decided it (so call.ringing
// sits after the 180 that caused it, though tm publishes call events in
// batches, after the messages).
func sortByTime(items []Item) {
	sort.SliceStable(items, func(a, b int) bool { return items[a].At.Before(items[b].At) })
}

// place fills From, To and Transport of the SIP items.
func place(items []Item) {
	edges := map[string]string{} // edge id -> its listener (Local), by transport
	firstLocal := ""
	for _, it := range items {
		if s := it.SIP; s != nil && s.Received() && s.Local != "" {
			if firstLocal == "" {
				firstLocal = s.Local
			}
			if s.Edge != "" {
				if _, ok := edges[s.Edge+"/"+s.Transport]; !ok {
					edges[s.Edge+"/"+s.Transport] = s.Local
				}
				if _, ok := edges[s.Edge]; !ok {
					edges[s.Edge] = s.Local
				}
			}
		}
	}
	if firstLocal == "" {
		firstLocal = "sipbus"
	}
	for i := range items {
		s := items[i].SIP
		if s == nil {
			continue
		}
		it := &items[i]
		if s.Received() {
			it.From, it.To, it.Transport = orUnknown(s.Remote), orUnknown(s.Local), s.Transport
			continue
		}
		d, err := events.ParseDest(s.Dest)
		if err != nil {
			it.From, it.To, it.Transport = firstLocal, "?", ""
			continue
		}
		it.Transport = d.Transport
		it.To = d.Flow
		if d.Addr.IsValid() {
			it.To = d.Addr.String()
		}
		edge := edgeOf(s.NATSSubject)
		if e := events.FlowEdge(d.Flow); d.Flow != "" && e != "" {
			edge = e
		}
		it.From = firstLocal
		if l, ok := edges[edge+"/"+d.Transport]; ok {
			it.From = l
		} else if l, ok := edges[edge]; ok {
			it.From = l
		}
	}
}

// edgeOf is the edge token of sip.<p>.out.<edge>.…
func edgeOf(subject string) string {
	t := strings.Split(subject, ".")
	if len(t) > 3 && t[2] == "out" {
		return t[3]
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// addrOf parses an item address for the pcap.
func addrOf(s string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(s)
	return ap, err == nil
}
