package app

import (
	"net/netip"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Binding is a registration as the page shows it.
type Binding struct {
	Contact   string `json:"contact"`
	UserAgent string `json:"user_agent"`
	Transport string `json:"transport"`
	// ExpiresAt is unix milliseconds; 0 for a permanent binding.
	ExpiresAt int64  `json:"expires_at"`
	NAT       bool   `json:"nat"`
	Received  string `json:"received,omitempty"`
}

// ShowBindings maps the live bindings of a location lookup.
func ShowBindings(bs []location.Binding, now time.Time) []Binding {
	out := make([]Binding, 0, len(bs))
	for i := range bs {
		b := &bs[i]
		if !b.LiveAt(now) {
			continue
		}
		v := Binding{Contact: b.Contact, UserAgent: b.UserAgent, Transport: strings.ToUpper(b.Transport),
			NAT: BehindNAT(b.Contact, b.Received), Received: b.Received}
		if v.Transport == "" {
			v.Transport = "UDP"
		}
		if !b.Expires.IsZero() {
			v.ExpiresAt = b.Expires.UnixMilli()
		}
		out = append(out, v)
	}
	return out
}

// BehindNAT reports whether a REGISTER came from another address than its
// Contact names: received is "udp:ip:port" (location.Binding.Received);
// a connection flow ("tcp:flowid") or an unparsable Contact says nothing,
// and a Contact with a host name is taken at its word.
func BehindNAT(contact, received string) bool {
	_, src, ok := strings.Cut(received, ":")
	if !ok {
		return false
	}
	from, err := netip.ParseAddrPort(src)
	if err != nil {
		return false
	}
	u, err := sipmsg.ParseURI(contact)
	if err != nil {
		return false
	}
	host, err := netip.ParseAddr(u.Host)
	if err != nil {
		return false
	}
	port := u.Port
	if port == 0 {
		port = 5060
		if u.Scheme == "sips" {
			port = 5061
		}
	}
	return host.Unmap() != from.Addr().Unmap() || uint16(port) != from.Port()
}
