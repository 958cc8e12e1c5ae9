package app

import (
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// alias honours ;alias in the top Via of a request that came over a TCP
// or TLS connection (RFC 5923 §5): requests to the peer's address at the
// Via's port (its listening port) go on this connection instead of a new
// one. The Via's transport must be the connection's; a WebSocket peer has
// no listening port to alias.
func (e *Edge) alias(p *Packet, m *sipmsg.Msg) {
	a, ok := e.send.(Aliaser)
	if !ok || (p.Transport != TCP && p.Transport != TLS) {
		return
	}
	v, err := m.TopVia()
	if err != nil || !v.Params.Has("alias") || !strings.EqualFold(v.Transport, p.Transport) {
		return
	}
	port := v.Port
	if port == 0 {
		port = 5060
		if p.Transport == TLS {
			port = 5061
		}
	}
	if port > 0 && port <= 65535 {
		a.Alias(p.Flow, uint16(port))
	}
}
