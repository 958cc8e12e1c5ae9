// Package app is tm's decision core: given a received request or response
// (with the index the edge built), decide what to send where. It returns the
// sends as data (edgeapi.SendRequest); package ports executes them through
// the edges and acknowledges the event. Nothing here talks to NATS.
//
// What works now (the rest of issue 4 builds on it):
//   - requests routed by the route table: relay to a target (location or a
//     fixed URI), reply, answer OPTIONS addressed to the proxy itself;
//   - RFC 3261 §16.6 forwarding: Via with a branch derived from the server
//     transaction key (a redelivered event produces the same branch, so the
//     edge's client transaction dedupes it), Max-Forwards decremented (483 at
//     0), Record-Route with the advertised address on dialog-creating
//     requests, loose routing of requests whose top Route is this proxy;
//   - ACK for 2xx and every in-dialog request follow Route (§16.12);
//   - responses: the proxy's Via is removed and the response goes upstream on
//     the server transaction the edge created (its Source names the exact
//     UDP address or TCP flow); final responses are stored by the edge so
//     retransmitted requests are answered there.
package app

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Kind of routing decision.
type Kind int

// Decision kinds.
const (
	Relay        Kind = iota + 1 // relay to Targets (first reachable)
	Reply                        // answer Status/Reason
	OptionsReply                 // answer 200 with Allow/Supported
	Ignore                       // not tm's (REGISTER goes to the registrar)
)

// Decision is what the route table says about a request.
type Decision struct {
	Kind    Kind
	Targets []string // Relay: request URIs to try, best first
	Status  int      // Reply
	Reason  string
}

// Router decides the fate of an out-of-dialog request.
type Router interface {
	Route(m *sipmsg.Msg, source netip.Addr) Decision
}

// Options configure the proxy.
type Options struct {
	// Advertise is the host:port this proxy puts in Via and Record-Route.
	Advertise string
	// Self lists host[:port] values that address this proxy (advertised
	// address, listen addresses, local domains used without a user).
	Self []string
	// Name is the proxy's Server / User-Agent value.
	Name string
}

// Proxy is tm's stateful-relay core.
type Proxy struct {
	opt    Options
	router Router
}

// New returns a proxy.
func New(opt Options, r Router) *Proxy {
	if opt.Name == "" {
		opt.Name = "sipbus-tm"
	}
	return &Proxy{opt: opt, router: r}
}

// Source is where a request came from, as the edge reported it.
type Source struct {
	Transport string // "udp" | "tcp"
	Remote    string // ip:port
	Flow      string
}

// Errors.
var (
	ErrNotOurs = errors.New("tm: response does not carry this proxy's Via")
)

// OnRequest decides what to send for a received request. txKey and callKey
// come from the event.
func (p *Proxy) OnRequest(m *sipmsg.Msg, src Source, txKey, callKey string) ([]*edgeapi.SendRequest, error) {
	reply := func(status int, reason string, headers ...string) []*edgeapi.SendRequest {
		if m.MethodID == sipmsg.ACK {
			return nil
		}
		raw := sipmsg.Reply(m, status, reason, sipmsg.ReplyOptions{ToTag: tagFor(txKey), Server: p.opt.Name, Headers: headers})
		return []*edgeapi.SendRequest{p.upstream(src, raw, txKey, callKey)}
	}
	mf, err := m.MaxForwards()
	if err != nil {
		return reply(400, "Bad Max-Forwards"), nil
	}
	if mf == 0 && m.MethodID != sipmsg.OPTIONS {
		return reply(483, "Too Many Hops"), nil
	}

	// Loose routing (RFC 3261 §16.4): a top Route naming us is removed; a
	// remaining Route is the next hop and the Request-URI stays.
	e := m.Edit()
	routes, _ := m.Routes()
	routeIdx := -1
	for i, h := range m.Headers {
		if h.ID == sipmsg.HRoute {
			routeIdx = i
			break
		}
	}
	if len(routes) > 0 && p.isSelf(routes[0].URI) {
		e.RemoveFirst(routeIdx)
		routes = routes[1:]
	}
	var target string
	switch {
	case len(routes) > 0:
		target = routes[0].URI.String()
	case m.MethodID == sipmsg.ACK || hasToTag(m):
		// In-dialog without Route: the Request-URI is the remote target.
		target = m.Str(m.RequestURI)
	default:
		ruri, err := m.RequestURIParsed()
		if err != nil {
			return reply(416, "Unsupported URI Scheme"), nil
		}
		if mf == 0 && m.MethodID == sipmsg.OPTIONS {
			return reply(483, "Too Many Hops"), nil
		}
		d := p.router.Route(m, addrOf(src.Remote))
		switch d.Kind {
		case Ignore:
			return nil, nil
		case Reply:
			return reply(d.Status, d.Reason), nil
		case OptionsReply:
			return reply(200, "OK", "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE, REFER, NOTIFY, SUBSCRIBE, INFO, PRACK, UPDATE",
				"Supported: path"), nil
		case Relay:
			if len(d.Targets) == 0 {
				return reply(480, "Temporarily Unavailable"), nil
			}
			target = d.Targets[0]
			e.SetRequestURI(target)
		default:
			return reply(500, "No route decision"), nil
		}
		_ = ruri
	}
	hop, err := sipmsg.ParseURI(target)
	if err != nil {
		return reply(400, "Bad next hop: "+err.Error()), nil
	}
	dest, transport, err := nextHop(hop)
	if err != nil {
		return reply(502, "Bad Gateway: "+err.Error()), nil
	}

	// Max-Forwards: decrement, or add it (RFC 3261 §16.6 step 3).
	if h, ok := m.Get(sipmsg.HMaxForwards); ok {
		for i := range m.Headers {
			if m.Headers[i] == h {
				e.Replace(i, strconv.Itoa(mf-1))
				break
			}
		}
	} else {
		e.Prepend("Max-Forwards: 70")
	}
	branch := branchFor(txKey, 0)
	if m.MethodID == sipmsg.ACK {
		// An ACK for a 2xx is its own transaction: a fresh, stable branch.
		branch = branchFor(txKey+"|ack", 0)
	}
	lines := []string{"Via: SIP/2.0/" + strings.ToUpper(transport) + " " + p.opt.Advertise + ";branch=" + branch}
	if dialogCreating(m) && !hasToTag(m) {
		lines = append(lines, "Record-Route: <sip:"+p.opt.Advertise+";lr>")
	}
	e.Prepend(lines...)
	out := &edgeapi.SendRequest{
		Transport: transport, Dest: dest, Raw: e.Bytes(), CallKey: callKey, RequestedBy: "tm",
	}
	if m.MethodID != sipmsg.ACK {
		out.TxKey = sipmsg.RequestClientTxKey(branch, m.Str(m.Method))
	}
	return []*edgeapi.SendRequest{out}, nil
}

// OnResponse removes this proxy's Via and sends the response upstream on the
// server transaction it answers. upstream resolves a server transaction key
// to where its request came from ("" when unknown).
func (p *Proxy) OnResponse(m *sipmsg.Msg, callKey string, upstream func(serverKey string) (Source, bool)) ([]*edgeapi.SendRequest, error) {
	v, err := m.TopVia()
	if err != nil || !p.isSelfHostPort(v.SentBy()) {
		return nil, ErrNotOurs
	}
	if m.StatusCode == 100 {
		return nil, nil // hop by hop: our edge sent its own 100 Trying
	}
	vi := -1
	for i, h := range m.Headers {
		if h.ID == sipmsg.HVia {
			vi = i
			break
		}
	}
	raw := m.Edit().RemoveFirst(vi).Bytes()
	up, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		return nil, fmt.Errorf("tm: response after removing Via: %w", err)
	}
	next, err := up.TopVia()
	if err != nil {
		return nil, nil // the response was for this proxy itself: nothing upstream
	}
	key, err := sipmsg.ResponseServerTxKey(up)
	src, ok := Source{}, false
	if err == nil {
		src, ok = upstream(key)
	}
	if !ok {
		// No server transaction (expired, or RFC 2543 upstream): route by Via
		// (RFC 3261 §18.2.2).
		port := next.Port
		if next.RPort > 0 {
			port = next.RPort
		}
		if port == 0 {
			port = 5060
		}
		host := next.Host
		if next.Received != "" {
			host = next.Received
		}
		src = Source{Transport: strings.ToLower(next.Transport), Remote: joinHostPort(host, port)}
		key = ""
	}
	return []*edgeapi.SendRequest{p.upstream(src, raw, key, callKey)}, nil
}

func (p *Proxy) upstream(src Source, raw []byte, txKey, callKey string) *edgeapi.SendRequest {
	return &edgeapi.SendRequest{
		Transport: src.Transport, Dest: src.Remote, Flow: src.Flow, Raw: raw,
		TxKey: txKey, CallKey: callKey, RequestedBy: "tm",
	}
}

func (p *Proxy) isSelf(u sipmsg.URI) bool {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return p.isSelfHostPort(joinHostPort(u.Host, port)) || (u.User == "" && p.isSelfHostPort(u.Host))
}

func (p *Proxy) isSelfHostPort(hp string) bool {
	if hp == p.opt.Advertise {
		return true
	}
	for _, s := range p.opt.Self {
		if strings.EqualFold(s, hp) {
			return true
		}
	}
	return false
}

// nextHop resolves a URI to "ip:port" and a transport. Hosts must be IP
// addresses for now (DNS NAPTR/SRV per RFC 3263 comes with the location work).
func nextHop(u sipmsg.URI) (dest, transport string, err error) {
	transport = "udp"
	if t, ok := u.Params.Get("transport"); ok {
		transport = strings.ToLower(t)
	}
	if transport != "udp" && transport != "tcp" {
		return "", "", fmt.Errorf("transport %q not supported", transport)
	}
	host := u.Host
	if m, ok := u.Params.Get("maddr"); ok && m != "" {
		host = m
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "", "", fmt.Errorf("next hop %q is not an IP address", host)
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(a, uint16(port)).String(), transport, nil
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

func addrOf(hp string) netip.Addr {
	ap, err := netip.ParseAddrPort(hp)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
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

// branchFor derives the branch of branch i of a server transaction: the
// same on every replica and every redelivery of the request event.
func branchFor(serverKey string, i int) string {
	sum := sha256.Sum256([]byte(serverKey + "|" + strconv.Itoa(i)))
	return sipmsg.MagicCookie + "sb" + hex.EncodeToString(sum[:10])
}

// tagFor derives the To tag of a reply tm generates for a transaction.
func tagFor(serverKey string) string {
	sum := sha256.Sum256([]byte("tag|" + serverKey))
	return hex.EncodeToString(sum[:8])
}
