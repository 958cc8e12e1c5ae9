package adapters

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// Location reads the registrar's location service (usrloc) for tm.
//
// A user exists when it has live bindings or a subscriber entry: an
// existing user without bindings gets 480, anybody else 404. A binding's
// Path becomes the Route set (RFC 3327). NAT: when a UDP binding's contact
// address is private, shared or link-local and not where its REGISTER came
// from, the request goes to the received address (the NAT's public side),
// the Request-URI staying the contact (Kamailio's nat_uac_test +
// fix_nated_register + lookup); a routable contact that is not the source
// is a third-party registration and is used as it is; bindings made over a
// connection (TCP, TLS, WebSocket) go back on the REGISTER's connection,
// falling back to the contact when it is gone (never for WebSocket, whose
// contact is a .invalid host).
type Location struct {
	Store     location.Store
	Directory subscriber.Directory // nil: only bindings make a user known
	// NoNAT disables using the received address.
	NoNAT bool
	Now   func() time.Time
}

var _ app.Locator = (*Location)(nil)

// Lookup implements app.Locator.
func (l *Location) Lookup(ctx context.Context, aor string) ([]app.Target, bool, error) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	bs, err := l.Store.Lookup(ctx, aor, now())
	if err != nil && !errors.Is(err, location.ErrNotFound) {
		return nil, false, err
	}
	if len(bs) == 0 {
		if l.Directory == nil {
			return nil, false, nil
		}
		_, err := l.Directory.Get(ctx, aor)
		switch {
		case errors.Is(err, subscriber.ErrNotFound):
			return nil, false, nil
		case err != nil:
			return nil, false, err
		}
		return nil, true, nil
	}
	ts := make([]app.Target, 0, len(bs))
	for _, b := range bs {
		t := app.Target{URI: b.Contact, Q: b.Q, Path: b.Path}
		if !l.NoNAT && behindNAT(b) {
			t.Received = b.Received
		}
		ts = append(ts, t)
	}
	return ts, true, nil
}

// behindNAT reports a binding whose contact cannot be reached directly:
// its REGISTER came over a connection (use it), or over UDP from another
// address than the contact's.
func behindNAT(b location.Binding) bool {
	transport, rest, ok := cutColon(b.Received)
	if !ok {
		return false
	}
	if transport != "udp" {
		return true
	}
	src, err := netip.ParseAddrPort(rest)
	if err != nil {
		return false
	}
	u, err := sipmsg.ParseURI(b.Contact)
	if err != nil {
		return false
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	a, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil {
		return true // a host name the proxy cannot resolve: the source can be reached
	}
	if !unroutable(a.Unmap()) {
		// A routable contact that is not the REGISTER's source is a
		// third-party registration (RFC 3261 §10.2): the contact is
		// where the user wants calls.
		return false
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)) != netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// unroutable reports an address a NAT hides: private (RFC 1918, RFC 4193),
// shared (RFC 6598) or link-local; the signature of a contact behind NAT
// (Kamailio's nat_uac_test flag 1).
func unroutable(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLinkLocalUnicast() || cgnat.Contains(a)
}

func cutColon(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}
