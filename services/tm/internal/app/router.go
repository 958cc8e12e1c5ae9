package app

import (
	"net/netip"
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// StaticRouter is the default route table until the registrar's location
// service and the route-table file are wired in: REGISTER is the
// registrar's; OPTIONS to the proxy itself is answered; requests to a local
// domain go to the contacts configured for the AOR (404 when the user is
// unknown); anything else is refused (no open relay).
type StaticRouter struct {
	Domains  []string            // local domains (lower case)
	Self     func(sipmsg.URI) bool
	Contacts map[string][]string // "sip:user@domain" -> contact URIs
}

var _ Router = (*StaticRouter)(nil)

// Route implements Router.
func (r *StaticRouter) Route(m *sipmsg.Msg, _ netip.Addr) Decision {
	u, err := m.RequestURIParsed()
	if err != nil {
		return Decision{Kind: Reply, Status: 416, Reason: "Unsupported URI Scheme"}
	}
	if m.MethodID == sipmsg.REGISTER {
		return Decision{Kind: Ignore}
	}
	if m.MethodID == sipmsg.OPTIONS && u.User == "" && r.Self != nil && r.Self(u) {
		return Decision{Kind: OptionsReply}
	}
	if !r.local(u.Host) {
		return Decision{Kind: Reply, Status: 403, Reason: "Relaying denied"}
	}
	aor := "sip:" + u.User + "@" + strings.ToLower(u.Host)
	targets, ok := r.Contacts[aor]
	if !ok {
		return Decision{Kind: Reply, Status: 404, Reason: "Not Found"}
	}
	if len(targets) == 0 {
		return Decision{Kind: Reply, Status: 480, Reason: "Temporarily Unavailable"}
	}
	return Decision{Kind: Relay, Targets: targets}
}

func (r *StaticRouter) local(host string) bool {
	for _, d := range r.Domains {
		if strings.EqualFold(d, host) {
			return true
		}
	}
	return false
}
