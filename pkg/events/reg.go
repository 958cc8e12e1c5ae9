package events

import (
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// AORKey is the short stable hash of an address of record used in
// reg.contact.<event>.<p> subjects and in the {aorkey} Redis hash tag.
// It is built exactly like sipmsg.CallKey: 16 lower-case hex digits of
// FNV-1a 64 over the AOR bytes ("" maps to "0000000000000000"). aor must be
// the registrar's canonical form (the RegContact.AOR value): the key hashes
// bytes and does not normalize.
func AORKey(aor string) string { return sipmsg.CallKey(aor) }

// RegContact is one registrar binding (an AOR's contact) as it stands after a
// change. It is the data of the four reg.contact types; each has its own Go
// type (RegContactAdded, ...) that embeds it, so bus.TypedFunc can tell them
// apart. A consumer of all four can decode into RegContact itself.
type RegContact struct {
	AOR       string    `json:"aor"`                  // canonical AOR; the CloudEvent subject
	AORKey    string    `json:"aor_key"`              // AORKey(AOR)
	Contact   string    `json:"contact"`              // binding's Contact URI, without header parameters
	ExpiresAt time.Time `json:"expires_at,omitzero"`  // zero: permanent binding
	Q         float64   `json:"q"`                    // 0 to 1
	CallID    string    `json:"call_id"`              // of the REGISTER that last wrote the binding
	CSeq      uint32    `json:"cseq"`                 // of that REGISTER
	Path      []string  `json:"path,omitempty"`       // Path URIs (RFC 3327), in order
	Received  string    `json:"received,omitempty"`   // source as a SIP URI (sip:ip:port;transport=t), behind NAT
	UserAgent string    `json:"user_agent,omitempty"` // User-Agent of the REGISTER
	Edge      string    `json:"edge,omitempty"`       // edge instance that received the REGISTER
	At        time.Time `json:"at"`                   // when the change happened
}

// RegContactAdded is TypeRegContactAdded: a REGISTER created a binding.
// Subject reg.contact.added.<p>.
type RegContactAdded struct{ RegContact }

// RegContactRefreshed is TypeRegContactRefreshed: a REGISTER refreshed a
// binding. Subject reg.contact.refreshed.<p>.
type RegContactRefreshed struct{ RegContact }

// RegContactRemoved is TypeRegContactRemoved: a REGISTER removed a binding
// (Expires 0 or Contact: *). Subject reg.contact.removed.<p>.
type RegContactRemoved struct{ RegContact }

// RegContactExpired is TypeRegContactExpired: a binding expired unrefreshed.
// Subject reg.contact.expired.<p>.
type RegContactExpired struct{ RegContact }

func (*RegContactAdded) CEType() string       { return TypeRegContactAdded }
func (*RegContactAdded) CESchema() string     { return SchemaURL(TypeRegContactAdded) }
func (*RegContactRefreshed) CEType() string   { return TypeRegContactRefreshed }
func (*RegContactRefreshed) CESchema() string { return SchemaURL(TypeRegContactRefreshed) }
func (*RegContactRemoved) CEType() string     { return TypeRegContactRemoved }
func (*RegContactRemoved) CESchema() string   { return SchemaURL(TypeRegContactRemoved) }
func (*RegContactExpired) CEType() string     { return TypeRegContactExpired }
func (*RegContactExpired) CESchema() string   { return SchemaURL(TypeRegContactExpired) }

var (
	_ bus.Typed = (*RegContactAdded)(nil)
	_ bus.Typed = (*RegContactRefreshed)(nil)
	_ bus.Typed = (*RegContactRemoved)(nil)
	_ bus.Typed = (*RegContactExpired)(nil)
)
