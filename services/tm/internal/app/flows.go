package app

import (
	"regexp"
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Flow tokens in Record-Route (the idea of RFC 5626 §5.3): a phone behind
// NAT registered over a connection ("tcp:<flow>" in its binding) is reached
// on that connection for the initial INVITE, wherever the INVITE entered
// (the flow id names its edge, pkg/edgeapi). Its Contact cannot be reached,
// so the requests that follow in the dialog, whose Request-URI is that
// Contact, must find the connection too, whichever edge and tm replica they
// reach. tm keeps no dialog state for that: the Record-Route it adds to a
// dialog-creating request names the flows of the dialog,
//
//	Record-Route: <sip:proxy;lr;sbfd=tcp~a~7>            callee on flow a~7
//	Record-Route: <sip:proxy;lr;sbfu=tcp~b~3;sbfd=...>   caller on flow b~3 too
//
// and both parties echo it in the Route of every request of the dialog
// (RFC 3261 §12.1). When tm pops that Route and nothing follows it, the
// request goes on a flow: one that arrived on the caller's flow goes to the
// callee's and the other way round; one that arrived elsewhere (over UDP,
// or another connection) goes to the one flow named, when one is. A flow
// that is gone falls back to the Request-URI, as for the initial INVITE.
//
// The tokens are not secret: a forged one can only make tm send a request
// down a connection it would route requests to anyway (a registered
// phone's, by its AOR), and only connections of the tcp transport are
// accepted, with edge ids and numbers in the flow id's grammar.
const (
	paramFlowUp   = "sbfu" // the flow the dialog-creating request came in on
	paramFlowDown = "sbfd" // the flow it went out on
)

var flowTokenRE = regexp.MustCompile(`^(tcp)~([A-Za-z0-9_-]{1,32}~[0-9]{1,20})$`)

// flowToken is the Record-Route parameter value naming flow over transport
// ("tcp~a~7"); "" when there is no flow or it is not one tm can name.
func flowToken(transport, flow string) string {
	if flow == "" {
		return ""
	}
	tok := strings.ToLower(transport) + "~" + flow
	if !flowTokenRE.MatchString(tok) {
		return ""
	}
	return tok
}

// flowParams is what tm adds to its Record-Route URI for a dialog-creating
// request that came in on inFlow (over inTransport) and goes out to out.
func flowParams(inTransport, inFlow string, out hop) string {
	var b strings.Builder
	if tok := flowToken(inTransport, inFlow); tok != "" {
		b.WriteString(";" + paramFlowUp + "=" + tok)
	}
	if tok := flowToken(out.Transport, out.Flow); tok != "" {
		b.WriteString(";" + paramFlowDown + "=" + tok)
	}
	return b.String()
}

// inDialogFlow is where an in-dialog request goes, from the flow tokens of
// our own Route (popped, with nothing after it) and the flow it arrived on:
// a Target.Received ("tcp:<flow>"), or "" for the Request-URI.
func inDialogFlow(self sipmsg.URI, arrivedOn string) string {
	up, down := flowParam(self, paramFlowUp), flowParam(self, paramFlowDown)
	var pick string
	switch {
	case arrivedOn != "" && up != "" && flowOf(up) == arrivedOn:
		pick = down // from the caller's side
	case arrivedOn != "" && down != "" && flowOf(down) == arrivedOn:
		pick = up // from the callee's side
	case up == "" || down == "":
		pick = up + down // the one flow named, if any
	}
	if pick == "" {
		return ""
	}
	transport, flow, _ := strings.Cut(pick, "~")
	return transport + ":" + flow
}

// flowParam is a valid flow token parameter of u, or "".
func flowParam(u sipmsg.URI, name string) string {
	v, ok := u.Params.Get(name)
	if !ok || !flowTokenRE.MatchString(v) {
		return ""
	}
	return v
}

// flowOf is the flow id of a valid token.
func flowOf(tok string) string {
	_, flow, _ := strings.Cut(tok, "~")
	return flow
}
