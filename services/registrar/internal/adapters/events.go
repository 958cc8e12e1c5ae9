// Package adapters holds the registrar's outputs: the reg.contact.* binding
// events on the bus.
package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Publisher is what Events publishes with (*bus.Publisher).
type Publisher interface {
	PublishData(ctx context.Context, subject, id, ceSubject, callKey string, data bus.Typed) error
}

var _ Publisher = (*bus.Publisher)(nil)

// Events publishes one reg.contact.<kind>.<p> event per binding
// change (schemas/sipbus.reg.contact.*.v1.json).
type Events struct {
	Pub Publisher
}

// Emit publishes the changes, which happened at at. Publishing is
// asynchronous (failed acks are counted by the publisher); an error means
// an event could not even be sent (ctx ended).
func (e *Events) Emit(ctx context.Context, changes []location.Change, at time.Time) error {
	var errs []error
	for i := range changes {
		subject, id, ceSubject, data := RegEvent(changes[i], at)
		if data == nil {
			continue
		}
		if err := e.Pub.PublishData(ctx, subject, id, ceSubject, "", data); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EventAOR is the AOR as events carry it (RegContact.AOR, the CloudEvent
// subject, the input of events.AORKey): "sip:" and the location service's
// canonical "user@domain", the form the reg.contact schemas name.
func EventAOR(aor string) string { return "sip:" + aor }

// RegEvent builds the event of one change: its NATS subject, its id, its
// CloudEvent subject (the AOR) and its data. The id is a hash of AOR,
// contact, Call-ID, CSeq and kind, so a REGISTER handled twice (a
// redelivery, two replicas) publishes the same id and the stream's
// duplicate window keeps one. data is nil for an unknown kind.
func RegEvent(c location.Change, at time.Time) (subject, id, ceSubject string, data bus.Typed) {
	b := &c.Binding
	aor := EventAOR(b.AOR)
	rc := events.RegContact{
		AOR: aor, AORKey: events.AORKey(aor), Contact: b.Contact, ExpiresAt: b.Expires.UTC(), Q: b.Q,
		CallID: b.CallID, CSeq: b.CSeq, Path: capPath(b.Path), Received: ReceivedURI(b),
		UserAgent: truncateRunes(b.UserAgent, 1024), Edge: truncateRunes(b.Edge, 256), At: at.UTC(),
	}
	if b.Permanent() {
		rc.ExpiresAt = time.Time{}
	}
	var event string
	switch c.Kind {
	case location.Added:
		event, data = bus.RegEventAdded, &events.RegContactAdded{RegContact: rc}
	case location.Refreshed:
		event, data = bus.RegEventRefreshed, &events.RegContactRefreshed{RegContact: rc}
	case location.Removed:
		event, data = bus.RegEventRemoved, &events.RegContactRemoved{RegContact: rc}
	case location.Expired:
		event, data = bus.RegEventExpired, &events.RegContactExpired{RegContact: rc}
	default:
		return "", "", "", nil
	}
	return bus.SubjectReg(event, rc.AORKey), EventID(b, c.Kind), aor, data
}

// EventID is the stable id of the event of one change: "reg-" and 32 hex
// digits of SHA-256 over AOR, contact, Call-ID, CSeq and kind.
func EventID(b *location.Binding, kind location.ChangeKind) string {
	sum := sha256.Sum256([]byte(b.AOR + "\x00" + b.Contact + "\x00" + b.CallID + "\x00" +
		strconv.FormatUint(uint64(b.CSeq), 10) + "\x00" + string(kind)))
	return "reg-" + hex.EncodeToString(sum[:16])
}

// ReceivedURI is where the REGISTER of b came from as a SIP URI
// (sip:ip:port;transport=udp), the form of RegContact.Received, when that
// differs from the contact's own address (the UA is behind a NAT); "" when
// it does not, or when b.Received names a TCP flow rather than an address.
func ReceivedURI(b *location.Binding) string {
	transport, rest, ok := strings.Cut(b.Received, ":")
	if !ok || transport == "" {
		return ""
	}
	src, err := netip.ParseAddrPort(rest)
	if err != nil {
		return ""
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if u, err := sipmsg.ParseURI(b.Contact); err == nil {
		port := u.Port
		if port == 0 {
			port = 5060
		}
		if a, err := netip.ParseAddr(strings.Trim(u.Host, "[]")); err == nil && netip.AddrPortFrom(a.Unmap(), uint16(port)) == src {
			return ""
		}
	}
	return "sip:" + src.String() + ";transport=" + strings.ToLower(transport)
}

// capPath keeps the schema's limit of 64 Path values.
func capPath(p []string) []string {
	if len(p) > 64 {
		return p[:64]
	}
	return p
}

// truncateRunes cuts s to at most n characters (the schemas' maxLength).
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s[:i]
}
