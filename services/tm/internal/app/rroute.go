package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Record-Route across transports (RFC 3261 §16.6 step 4, RFC 5658).
//
// A dialog-creating request forwarded from one listener of the edges to
// another (UDP to WebSocket, TCP to TLS ...) gets two Record-Route
// values, in one row: the first names the listener facing the next hop,
// the second the one facing the previous hop. The UAS puts the pair in its route set
// in that order, the UAC in the reverse order, so each side's in-dialog
// requests reach the edges on a listener it can use, and tm pops both
// (popSelf). One value, as before, when both sides are the same listener
// and neither is a connection.
//
// A side reached over a connection (a flow of an edge) carries a flow
// token in the user part of its value: "<flow>.<mac>", the flow id and an
// HMAC of it under the flow key. When tm pops the value of the far side
// and finds a token that verifies, the request goes on that connection:
// the way back to a WebSocket phone (whose Contact is a .invalid host), to
// a phone behind NAT, or to a caller over its own connection, as RFC 5626
// §5.3 and RFC 7118 §5 describe. The MAC keeps anybody from steering
// requests into another phone's connection with a forged Route.
//
// The values name each transport the way deployed proxies do:
//
//	udp  <sip:ADDR;lr>               tcp  <sip:ADDR;transport=tcp;lr>
//	tls  <sip:ADDR;transport=tls;lr> ws   <sip:ADDR;transport=ws;lr>
//	wss  <sips:ADDR;transport=ws;lr> (RFC 7118 §5.3: ws with sips is WSS)
//
// transport=tls is what Kamailio, OpenSIPS and phones write and read;
// RFC 5630 deprecates it for sips:, which tm also reads as TLS.

// side is one side of a proxied request: the transport of the edges'
// listener, and the connection when it is one.
type side struct {
	transport, flow string
}

// recordRoute is the Record-Route of a dialog-creating request that came
// from src and leaves over h.
func (e *Engine) recordRoute(src Source, h hop) []string {
	in := side{transport: src.Transport, flow: src.Flow}
	if in.transport == "" {
		in.transport = events.UDP
	}
	out := side{transport: h.Transport, flow: h.Flow}
	if in.transport == out.transport && in.flow == "" && out.flow == "" {
		return []string{"Record-Route: " + e.rrValue(out)}
	}
	// One row: a UA that copies "the Record-Route" as a row keeps both.
	return []string{"Record-Route: " + e.rrValue(out) + ", " + e.rrValue(in)}
}

// rrValue is the Record-Route value naming the edges' listener of s.
func (e *Engine) rrValue(s side) string {
	user := ""
	if s.flow != "" && events.Connected(s.transport) {
		user = e.flowToken(s.transport, s.flow) + "@"
	}
	addr := e.listener(s.transport)
	switch s.transport {
	case events.TCP, events.TLS, events.WS:
		return "<sip:" + user + addr + ";transport=" + s.transport + ";lr>"
	case events.WSS:
		return "<sips:" + user + addr + ";transport=ws;lr>"
	}
	return "<sip:" + user + addr + ";lr>"
}

// listener is the host:port of the edges' listener for transport: the
// configured one, else Advertise (UDP and TCP share it).
func (e *Engine) listener(transport string) string {
	if a := e.cfg.Listeners[transport]; a != "" {
		return a
	}
	return e.cfg.Advertise
}

// flowToken is "<flow>.<mac>": 16 hex digits of HMAC-SHA256 over the
// transport and the flow.
func (e *Engine) flowToken(transport, flow string) string {
	return flow + "." + e.flowMAC(transport, flow)
}

func (e *Engine) flowMAC(transport, flow string) string {
	m := hmac.New(sha256.New, e.cfg.FlowKey)
	m.Write([]byte(transport + "|" + flow))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// popSelf counts the Route values at the top that name this proxy, at
// most two (its double Record-Route), and returns the connection a flow
// token among them sends the request to, in the form of a binding's
// received address ("ws:<flow>"), or "" for the Request-URI. The value
// popped last faces the far side (a UA's route set is Record-Route in
// order for the callee, reversed for the caller); its token wins unless it
// names the connection the request arrived on (arrivedOn). A token of the
// value popped first counts only when the last names the arrival's own
// connection, or the request came over UDP: a UA that did not reverse the
// route set still reaches the other side, and a phone that reconnected
// does not get its own request back.
func (e *Engine) popSelf(routes []sipmsg.NameAddr, arrivedOn string) (n int, flow string) {
	var toks [2]string
	for n < len(routes) && n < 2 && e.isSelfURI(routes[n].URI) {
		toks[n] = e.tokenFlow(routes[n].URI)
		n++
	}
	if n == 0 {
		return 0, ""
	}
	mine := func(tok string) bool { _, f, _ := strings.Cut(tok, ":"); return arrivedOn != "" && f == arrivedOn }
	last := toks[n-1]
	switch {
	case last != "" && !mine(last):
		return n, last
	case n == 2 && toks[0] != "" && !mine(toks[0]) && (arrivedOn == "" || mine(last)):
		return n, toks[0]
	}
	return n, ""
}

// tokenFlow reads the flow token of one of our Route values.
func (e *Engine) tokenFlow(u sipmsg.URI) string {
	flow, mac, ok := strings.Cut(u.User, ".")
	if !ok || flow == "" {
		return ""
	}
	transport := uriTransport(u)
	if !events.Connected(transport) || !hmac.Equal([]byte(mac), []byte(e.flowMAC(transport, flow))) {
		return ""
	}
	return transport + ":" + flow
}

// uriTransport is the transport a SIP URI asks for: its transport
// parameter (lower case; ws under sips is wss, RFC 7118), else tls for
// sips (RFC 5630) and udp for sip.
func uriTransport(u sipmsg.URI) string {
	t, ok := u.Params.Get("transport")
	t = strings.ToLower(t)
	switch {
	case !ok && u.Scheme == "sips":
		return events.TLS
	case !ok:
		return events.UDP
	case t == events.WS && u.Scheme == "sips":
		return events.WSS
	}
	return t
}
