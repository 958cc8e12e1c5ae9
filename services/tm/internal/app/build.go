package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Branch ids. A branch this proxy creates is
//
//	z9hG4bK sb <16 hex: hash of the server transaction key> . <branch index>
//
// so a response names the proxy transaction (record "p:<hash>") and the
// branch without any lookup, and a redelivered request event produces the
// same branches on every replica. Stateless forwards (ACK for 2xx) use the
// prefix "sl".
const (
	branchPrefix    = sipmsg.MagicCookie + "sb"
	statelessPrefix = sipmsg.MagicCookie + "sl"
)

// ptxID is the id of the proxy transaction of a server transaction key.
func ptxID(serverKey string) string {
	sum := sha256.Sum256([]byte(serverKey))
	return hex.EncodeToString(sum[:8])
}

func branchID(ptx string, i int) string { return branchPrefix + ptx + "." + strconv.Itoa(i) }

// parseBranch splits a branch this proxy created; ok is false otherwise.
func parseBranch(b string) (ptx string, i int, ok bool) {
	rest, found := strings.CutPrefix(b, branchPrefix)
	if !found {
		return "", 0, false
	}
	id, idx, found := strings.Cut(rest, ".")
	if !found || len(id) != 16 {
		return "", 0, false
	}
	n, err := strconv.Atoi(idx)
	if err != nil || n < 0 || n > 1024 {
		return "", 0, false
	}
	return id, n, true
}

func statelessBranch(key string) string {
	sum := sha256.Sum256([]byte("sl|" + key))
	return statelessPrefix + hex.EncodeToString(sum[:10])
}

// tagFor derives the To tag of a reply tm generates for a transaction.
func tagFor(serverKey string) string {
	sum := sha256.Sum256([]byte("tag|" + serverKey))
	return hex.EncodeToString(sum[:8])
}

// Target is one place to relay a request to.
type Target struct {
	URI      string   `json:"uri,omitempty"`      // new Request-URI; "" keeps the request's
	Q        float64  `json:"q,omitempty"`        // 0..1 (location); serial forking by q
	Path     []string `json:"path,omitempty"`     // Path of the binding (RFC 3327): Route headers
	Received string   `json:"received,omitempty"` // "udp:ip:port", "ws:<flow>"...: reach a contact behind NAT, or over its connection, there
	NextHop  string   `json:"next_hop,omitempty"` // relay: a fixed next hop; the Request-URI stays
}

// hop is where a branch request goes.
type hop struct {
	Transport, Dest, Flow string
	// Name is the host a TLS server's certificate is verified against
	// (RFC 5922 §4: the URI's domain), when the next hop was a name.
	Name string `json:",omitempty"`
}

// dest is the hop in sipdest form (events.ParseDest).
func (h hop) dest() string {
	d := h.Transport + ":" + h.Dest
	if h.Flow != "" {
		d += "/" + h.Flow
	}
	if h.Name != "" && h.Transport == events.TLS {
		d += "#" + h.Name
	}
	return d
}

// hopsOf are the targets q resolved to, as hops, in order; a TLS hop
// verifies the server's certificate against the domain of the URI (RFC
// 5922 §4), not the SRV target's name.
func hopsOf(q sipdns.Query, ts []sipdns.Target) []hop {
	name := ""
	if _, err := netip.ParseAddr(q.Host); err != nil && q.Host != "" {
		name = q.Host
	}
	hs := make([]hop, len(ts))
	for i, t := range ts {
		hs[i] = hop{Transport: t.Transport, Dest: t.Addr.String()}
		if t.Transport == events.TLS {
			hs[i].Name = name
		}
	}
	return hs
}

// destination is where a branch request goes before DNS: the URI whose
// TARGET RFC 3263 resolves (query), or a fixed hop.
type destination struct {
	uri   string
	query sipdns.Query
	fixed *hop // a binding's received address (NAT): no resolution
}

// destinationOf picks the next hop of a branch request (RFC 3261 §16.6
// step 7): a binding's received address when the request follows no
// Route (NAT, the connection it registered over); else the first Route
// (loose routing: the binding's Path, a relay's fixed next hop, a Route
// left in the request), else the Request-URI ruri.
func destinationOf(fw forward, t Target, ruri string) (destination, error) {
	next := fw.route
	if len(t.Path) > 0 {
		next = strings.Trim(t.Path[0], "<>")
		if na, err := sipmsg.ParseNameAddr(t.Path[0]); err == nil {
			next = na.URI.String()
		}
	}
	if t.NextHop != "" {
		next = t.NextHop
	}
	target := ruri
	if next != "" {
		target = next
	}
	d := destination{uri: target}
	u, uerr := sipmsg.ParseURI(target)
	var qerr error
	if uerr == nil {
		d.query, qerr = sipdns.QueryFor(u)
	}
	if t.Received != "" && next == "" {
		if tr, a, flow, ok := splitSource(t.Received); ok {
			h := hop{Transport: tr, Dest: a, Flow: flow}
			if flow != "" {
				// The REGISTER's connection; the contact, when it is an
				// address, is where a new connection goes if that one
				// is gone.
				if lit, ok := sipdns.Literal(d.query); ok && uerr == nil && qerr == nil {
					h.Dest = lit[0].Addr.String()
				}
			}
			d.fixed = &h
			return d, nil
		}
	}
	switch {
	case uerr != nil:
		return d, fmt.Errorf("next hop %s: %w", sipdns.Safe(target), uerr)
	case qerr != nil:
		return d, fmt.Errorf("next hop %s: %w", sipdns.Safe(target), qerr)
	}
	return d, nil
}

// splitSource splits a binding's received address: "udp:ip:port",
// "tcp:ip:port", or "<transport>:<flow>" for a connection (tcp, tls, ws,
// wss).
func splitSource(s string) (transport, addr, flow string, ok bool) {
	t, rest, found := strings.Cut(s, ":")
	if !found || !events.IsTransport(t) {
		return "", "", "", false
	}
	if _, err := netip.ParseAddrPort(rest); err == nil {
		return t, rest, "", true
	}
	if events.Connected(t) && rest != "" {
		return t, "", rest, true
	}
	return "", "", "", false
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

func headerIndex(m *sipmsg.Msg, id sipmsg.HeaderID) int {
	for i, h := range m.Headers {
		if h.ID == id {
			return i
		}
	}
	return -1
}

func hasToTag(m *sipmsg.Msg) bool {
	to, err := m.To()
	return err == nil && to.Tag() != ""
}

func dialogCreating(m *sipmsg.Msg) bool {
	switch m.MethodID {
	case sipmsg.INVITE, sipmsg.SUBSCRIBE, sipmsg.REFER, sipmsg.NOTIFY:
		return true
	}
	return false
}

// buildCancel builds the CANCEL of a branch request (RFC 3261 §9.1): same
// Request-URI, the top Via only, the same Call-ID, From, To and Route, CSeq
// number with method CANCEL.
func buildCancel(req *sipmsg.Msg) []byte {
	return buildHopRequest(req, "CANCEL", "")
}

// buildACK builds the ACK for a non-2xx final response to a branch INVITE
// (RFC 3261 §17.1.1.3): like CANCEL, with the To of the response.
func buildACK(req *sipmsg.Msg, resp *sipmsg.Msg) []byte {
	return buildHopRequest(req, "ACK", resp.Value(sipmsg.HTo))
}

func buildHopRequest(req *sipmsg.Msg, method, to string) []byte {
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte(' ')
	b.Write(req.Bytes(req.RequestURI))
	b.WriteString(" SIP/2.0\r\n")
	wroteVia := false
	for _, h := range req.Headers {
		switch h.ID {
		case sipmsg.HVia:
			if wroteVia {
				continue
			}
			wroteVia = true
			vals := req.Values(sipmsg.HVia)
			if len(vals) > 0 {
				b.WriteString("Via: " + vals[0] + "\r\n")
			}
		case sipmsg.HRoute, sipmsg.HFrom, sipmsg.HCallID:
			b.WriteString(canonicalName(h.ID) + ": " + req.HeaderValue(h) + "\r\n")
		case sipmsg.HTo:
			if to == "" {
				to = req.HeaderValue(h)
			}
			b.WriteString("To: " + to + "\r\n")
		}
	}
	cs, _ := req.CSeq()
	b.WriteString("CSeq: " + strconv.FormatUint(uint64(cs.Seq), 10) + " " + method + "\r\n")
	b.WriteString("Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	return []byte(b.String())
}

func canonicalName(id sipmsg.HeaderID) string {
	switch id {
	case sipmsg.HRoute:
		return "Route"
	case sipmsg.HFrom:
		return "From"
	case sipmsg.HCallID:
		return "Call-ID"
	case sipmsg.HTo:
		return "To"
	}
	return ""
}
