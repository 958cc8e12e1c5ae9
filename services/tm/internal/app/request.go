package app

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/services/tm/internal/routes"
)

// Inbound is one received message as the edge published it.
type Inbound struct {
	Msg     *sipmsg.Msg
	Src     Source
	TxKey   string // server tx key (request) / client tx key (response)
	CallKey string
	// Event is the event the edge published, for hand-over to apps.
	Event *events.SIP
}

// allowed is the Allow value of OPTIONS answered by the proxy itself.
const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, REFER, NOTIFY, SUBSCRIBE, INFO, PRACK, UPDATE"

// Request handles a request the edge received.
func (e *Engine) Request(ctx context.Context, in *Inbound) error {
	m := in.Msg
	switch m.MethodID {
	case sipmsg.ACK:
		return e.ack(ctx, in)
	case sipmsg.CANCEL:
		return e.cancel(ctx, in)
	}
	if c := e.cache.get(cacheKey(in.CallKey, ptxID(in.TxKey))); c != nil {
		return e.retransmitted(ctx, in, c)
	}
	mf, err := m.MaxForwards()
	if err != nil {
		return e.reply(ctx, in, 400, "Bad Max-Forwards", nil)
	}
	loop := e.loopHash(m)
	if e.looped(m, loop) {
		return e.reject(ctx, in, 482, "Loop Detected")
	}

	// Loose routing (RFC 3261 §16.4): a top Route naming us is removed (two
	// when they are our double Record-Route, RFC 5658); a remaining Route
	// is the next hop and the Request-URI stays.
	routeSet, _ := m.Routes()
	pop, flow := e.popSelf(routeSet, in.Src.Flow)
	routeSet = routeSet[pop:]
	fw := forward{pop: pop, loop: loop, from: in.Src}
	if len(routeSet) > 0 {
		fw.route = routeSet[0].URI.String()
	}
	// No open relay: tm Record-Routes every dialog it creates, so a request
	// of one of its dialogs carries a Route naming it. An in-dialog request
	// without it belongs to a dialog that does not pass here (Kamailio's
	// default answers 404 too), and an initial request whose Route goes on
	// elsewhere would make tm relay to any host the sender names
	// ("preloaded" Route, Kamailio: 403).
	if hasToTag(m) && pop == 0 {
		if handled, err := e.uacDialog(ctx, in); handled {
			return err
		}
	}
	switch {
	case hasToTag(m) && pop == 0:
		return e.reject(ctx, in, 404, "Not Here: no Route to this proxy in an in-dialog request")
	case !hasToTag(m) && len(routeSet) > 0:
		return e.reject(ctx, in, 403, "Preload Route denied")
	}
	if len(routeSet) > 0 || hasToTag(m) {
		// In-dialog: follow the route, keep the Request-URI; a party behind
		// NAT or over a WebSocket is reached on its flow (rroute.go).
		if mf == 0 {
			return e.reject(ctx, in, 483, "Too Many Hops")
		}
		fx := &effects{}
		if m.MethodID == sipmsg.BYE {
			if err := e.byeEnded(ctx, in, fx); err != nil {
				return err
			}
		}
		// A popped Route of ours with a flow token: the connection the
		// Request-URI is reached on (a WebSocket phone, a phone behind NAT).
		return e.relay(ctx, in, fw, [][]Target{{{Received: flow}}}, nil, nil, fx)
	}

	ruri, err := m.RequestURIParsed()
	if err != nil || (ruri.Scheme != "sip" && ruri.Scheme != "sips") {
		return e.reject(ctx, in, 416, "Unsupported URI Scheme")
	}
	toSelf := ruri.User == "" && e.isSelfURI(ruri)
	if mf == 0 && !(m.MethodID == sipmsg.OPTIONS && toSelf) {
		return e.reject(ctx, in, 483, "Too Many Hops")
	}
	rule, ok := e.d.Routes.Match(routes.Request{
		Method: m.Str(m.Method), User: ruri.User, Host: strings.ToLower(ruri.Host),
		Source: addrOf(in.Src.Remote), HasHeader: func(name string) bool { return hasHeader(m, name) },
		LocalDomain: e.local(ruri.Host), ToSelf: toSelf,
	})
	if !ok {
		return e.reject(ctx, in, 403, "Relaying denied")
	}
	act := rule.Action
	switch act.Kind {
	case routes.Registrar:
		return nil // the registrar consumes REGISTER itself
	case routes.OptionsReply:
		return e.reply(ctx, in, 200, "OK", []string{"Allow: " + allowed, "Accept: application/sdp", "Supported: path"})
	case routes.Reply:
		return e.reject(ctx, in, act.Code, act.Reason)
	case routes.Relay:
		return e.relay(ctx, in, fw, [][]Target{{{NextHop: act.URI}}}, rule.OnFailure, e.newCall(in, false), nil)
	case routes.Location:
		aor := ruri.User + "@" + strings.ToLower(ruri.Host)
		targets, known, err := e.d.Locate.Lookup(ctx, aor)
		if err != nil {
			return err
		}
		call := e.newCall(in, true)
		if !known {
			return e.rejectCall(ctx, in, 404, "Not Found", call)
		}
		if len(targets) == 0 {
			if rule.OnFailure != nil {
				return e.relay(ctx, in, fw, nil, rule.OnFailure, call, nil)
			}
			return e.rejectCall(ctx, in, 480, "Temporarily Unavailable", call)
		}
		return e.relay(ctx, in, fw, groupByQ(targets), rule.OnFailure, call, nil)
	case routes.App:
		return e.handOver(ctx, in, act.App)
	}
	return e.reject(ctx, in, 500, "Unknown route action")
}

// forward is how a request is rewritten for every branch.
type forward struct {
	pop   int    // Route values naming us at the top, to remove (0, 1 or 2)
	route string // remaining top Route: the next hop
	loop  string // loop-detection hash (§16.3 step 4)
	from  Source // where the request came from (the inbound side of Record-Route)
}

// relay creates the proxy transaction and starts the first group. fx may
// carry effects of the request itself (the end of a call for a BYE).
func (e *Engine) relay(ctx context.Context, in *Inbound, fw forward, groups [][]Target, onFailure *routes.Action, call *callInfo, fx *effects) error {
	m := in.Msg
	p := &ptx{
		ID: ptxID(in.TxKey), ServerKey: in.TxKey, Method: m.Str(m.Method), CallID: m.CallID(),
		Req: append([]byte(nil), m.Raw...), Src: in.Src, Groups: groups, OnFailure: onFailure, Call: call,
		Created: e.d.Now(),
	}
	if fx == nil {
		fx = &effects{}
	}
	if p.invite() && call != nil {
		fx.emits = append(fx.emits, e.callStarted(in.CallKey, p))
	}
	e.next(p, in.CallKey, fw, fx)
	created, err := e.create(ctx, in.CallKey, p, fx)
	if err != nil || created {
		return err
	}
	// It exists though this replica did not hold it: a retransmission of a
	// request handled before a takeover.
	c, err := e.load(ctx, in.CallKey, p.ID)
	if err != nil {
		return err
	}
	e.cache.put(cacheKey(in.CallKey, p.ID), c, e.linger(c.p))
	return e.retransmitted(ctx, in, c)
}

// retransmitted answers a retransmission of a request whose transaction
// exists (RFC 3261 §17.2.1, §17.2.2) and that no edge absorbed (it reached
// an edge that did not see the answer): the final response again, or 100
// Trying for an INVITE still in progress; nothing is relayed again (each
// branch has its own retransmission timers). The answer leaves from the
// edge the retransmission came in on.
func (e *Engine) retransmitted(ctx context.Context, in *Inbound, c *cached) error {
	p := c.p
	switch {
	case p.Final != 0 && len(p.Last) > 0:
		return e.d.Send.Send(ctx, e.upstream(in.Src, p.Last, p.ServerKey, in.CallKey, p.CallID))
	case p.Final == 0 && p.invite():
		trying := sipmsg.Reply(in.Msg, 100, "Trying", sipmsg.ReplyOptions{Server: e.cfg.Name})
		return e.d.Send.Send(ctx, e.upstream(in.Src, trying, p.ServerKey, in.CallKey, p.CallID))
	}
	return nil
}

// next starts the next group of targets, or on_failure, or sends the final
// answer upstream when nothing is left.
func (e *Engine) next(p *ptx, ck string, fw forward, fx *effects) {
	m, err := sipmsg.Parse(p.Req, sipmsg.Datagram)
	if err != nil {
		e.final(p, ck, 500, "Server Internal Error", nil, fx)
		return
	}
	for len(p.Groups) > 0 && !p.Cancelled {
		group := p.Groups[0]
		p.Groups = p.Groups[1:]
		started := 0
		for _, t := range group {
			if e.startBranch(p, ck, m, fw, t, fx) {
				started++
			}
		}
		if started > 0 {
			return
		}
	}
	e.complete(p, ck, fx)
}

// buildBranch rewrites the request for one target (RFC 3261 §16.6),
// sent to h.
func (e *Engine) buildBranch(m *sipmsg.Msg, fw forward, t Target, br string, h hop) []byte {
	ed := m.Edit()
	if fw.pop > 0 {
		ed.RemoveValues(sipmsg.HRoute, fw.pop)
	}
	if t.URI != "" {
		ed.SetRequestURI(t.URI)
	}
	if src, err := netip.ParseAddrPort(fw.from.Remote); err == nil {
		if i, v, ok := m.StampTopVia(src); ok {
			ed.Replace(i, v)
		}
	}
	mf, _ := m.MaxForwards()
	if i := headerIndex(m, sipmsg.HMaxForwards); i >= 0 {
		ed.Replace(i, strconv.Itoa(mf-1))
	} else {
		ed.Prepend("Max-Forwards: 70")
	}
	// Our Via goes last in the block so it sits right above the previous
	// hop's Via: peers that copy "the Via rows" as one block find them all.
	var lines []string
	if dialogCreating(m) && !hasToTag(m) {
		lines = append(lines, e.recordRoute(fw.from, h)...)
	}
	for _, pth := range t.Path {
		lines = append(lines, "Route: "+pth)
	}
	via := "Via: SIP/2.0/" + strings.ToUpper(h.Transport) + " " + e.listener(h.Transport) + ";branch=" + br
	if fw.loop != "" {
		via += ";sbl=" + fw.loop
	}
	lines = append(lines, via)
	ed.Prepend(lines...)
	return ed.Bytes()
}

// branchSend is the message that sends (or resends) a branch request,
// from the edge the request came in on while it lives.
func (e *Engine) branchSend(p *ptx, ck string, b *branch) *edgeapi.Message {
	return &edgeapi.Message{Raw: b.Req, Dest: b.Hop.dest(), Edge: e.edgeFor(p.Src.Edge), CallKey: ck, CallID: p.CallID}
}

// edgeFor is the edge a message leaves from: the one named while it is
// alive, else any edge ("").
func (e *Engine) edgeFor(id string) string {
	if id != "" && e.d.Edges.Alive(id) {
		return id
	}
	return ""
}

// reply answers a request upstream without a proxy transaction.
func (e *Engine) reply(ctx context.Context, in *Inbound, status int, reason string, headers []string) error {
	raw := sipmsg.Reply(in.Msg, status, reason, sipmsg.ReplyOptions{ToTag: tagFor(in.TxKey), Server: e.cfg.Name, Headers: headers})
	return e.d.Send.Send(ctx, e.upstream(in.Src, raw, in.TxKey, in.CallKey, in.Msg.CallID()))
}

// reject answers with an error; an initial INVITE also starts and misses a call.
func (e *Engine) reject(ctx context.Context, in *Inbound, status int, reason string) error {
	return e.rejectCall(ctx, in, status, reason, e.newCall(in, false))
}

func (e *Engine) rejectCall(ctx context.Context, in *Inbound, status int, reason string, call *callInfo) error {
	if err := e.reply(ctx, in, status, reason, nil); err != nil {
		return err
	}
	if call == nil {
		return nil
	}
	p := &ptx{ID: ptxID(in.TxKey), Method: "INVITE", CallID: in.Msg.CallID(), Call: call, Final: status, Req: in.Msg.Raw}
	now := e.d.Now()
	return e.run(ctx, in.CallKey, p, &effects{}, []Emission{e.callStarted(in.CallKey, p), e.callMissed(in.CallKey, p, now)})
}

// upstream is a response to send back where the request came from (Src.Reply,
// RFC 3261 §18.2.2), from the edge it came in on while that edge lives.
func (e *Engine) upstream(src Source, raw []byte, txKey, callKey, callID string) *edgeapi.Message {
	return &edgeapi.Message{Raw: raw, Dest: src.Reply, Edge: e.edgeFor(src.Edge), TxKey: txKey, CallKey: callKey, CallID: callID}
}

// ack handles an ACK no edge absorbed. The ACK of a non-2xx final belongs to
// the INVITE's transaction (same key): it ends it, and goes nowhere. Any
// other ACK (for a 2xx, or one this replica holds no transaction for) is
// forwarded statelessly (RFC 3261 §16.11): it is its own transaction end to
// end. Only memory is consulted: a stateful proxy forwards an ACK that
// matches no transaction, so a Redis read per call is not worth making.
func (e *Engine) ack(ctx context.Context, in *Inbound) error {
	if c := e.cache.get(cacheKey(in.CallKey, ptxID(in.TxKey))); c != nil && c.p.invite() && c.p.Final >= 300 {
		return nil
	}
	return e.forwardACK(ctx, in)
}

// forwardACK forwards an ACK statelessly (RFC 3261 §16.11).
func (e *Engine) forwardACK(ctx context.Context, in *Inbound) error {
	m := in.Msg
	routeSet, _ := m.Routes()
	pop, flow := e.popSelf(routeSet, in.Src.Flow)
	routeSet = routeSet[pop:]
	fw := forward{pop: pop, from: in.Src}
	if pop == 0 {
		// Not routed through us (the ACK of a 2xx carries our Route) and
		// matching no transaction here: not ours to relay (no open relay).
		e.d.Log.Debug("tm: ACK without our Route dropped", "call_key", in.CallKey)
		return nil
	}
	if len(routeSet) > 0 {
		fw.route = routeSet[0].URI.String()
	}
	if mf, err := m.MaxForwards(); err != nil || mf == 0 {
		return nil
	}
	fw.loop = e.loopHash(m)
	t := Target{Received: flow}
	d, err := destinationOf(fw, t, m.Str(m.RequestURI))
	if err != nil {
		e.d.Log.Info("tm: ACK not forwarded", "call_key", in.CallKey, "err", err)
		return nil
	}
	// RFC 3263 §4.4: a stateless forward picks the same server for every
	// retransmission of the ACK.
	d.query.Seed = seedOf(in.TxKey)
	edge, ck, br := e.edgeFor(in.Src.Edge), in.CallKey, statelessBranch(in.TxKey)
	send := func(ctx context.Context, am *sipmsg.Msg, h hop) error {
		out := e.buildBranch(am, fw, t, br, h)
		return e.d.Send.Send(ctx, &edgeapi.Message{Raw: out, Dest: h.dest(), Edge: edge, CallKey: ck, CallID: am.CallID()})
	}
	if d.fixed != nil {
		return send(ctx, m, *d.fixed)
	}
	ts, err, ok := e.cached(d.query)
	switch {
	case ok && err == nil:
		return send(ctx, m, hopsOf(d.query, ts)[0])
	case ok || e.d.Lookups == nil:
		e.d.Log.Debug("tm: ACK not forwarded", "call_key", ck, "next_hop", sipdns.Safe(d.uri), "err", err)
		return nil
	}
	raw := append([]byte(nil), m.Raw...) // m is not ours after this input
	e.d.Lookups.Lookup(ck, d.query, func(ctx context.Context, ts []sipdns.Target, err error) error {
		am, perr := sipmsg.Parse(raw, sipmsg.Datagram)
		if err != nil || perr != nil || len(ts) == 0 {
			return nil // a failed lookup is logged where it happened
		}
		return send(ctx, am, hopsOf(d.query, ts)[0])
	})
	return nil
}

// seedOf is a stable non-zero seed for the SRV draw of a stateless forward.
func seedOf(key string) uint64 {
	sum := sha256.Sum256([]byte("seed|" + key))
	return binary.BigEndian.Uint64(sum[:8]) | 1
}

// cancel handles a CANCEL (RFC 3261 §16.10).
func (e *Engine) cancel(ctx context.Context, in *Inbound) error {
	key, err := sipmsg.ServerTxKeyFor(in.Msg, "INVITE")
	if err != nil {
		return e.reply(ctx, in, 400, "Bad Via", nil)
	}
	id := ptxID(key)
	err = e.update(ctx, in.CallKey, id, func(p *ptx, fx *effects) error {
		if p.Final != 0 || p.Cancelled {
			return nil
		}
		p.Cancelled = true
		fx.cancel = append(fx.cancel, armKey{"C", -1})
		for _, b := range p.Branches {
			e.cancelBranch(p, in.CallKey, b, fx)
		}
		e.complete(p, in.CallKey, fx)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return e.reply(ctx, in, 481, "Call/Transaction Does Not Exist", nil)
	}
	if err != nil {
		return err
	}
	return e.reply(ctx, in, 200, "OK", nil)
}

// cancelBranch sends CANCEL on a pending branch that had a provisional
// response (RFC 3261 §9.1: not before); a branch still calling is cancelled
// when its first provisional arrives.
func (e *Engine) cancelBranch(p *ptx, ck string, b *branch, fx *effects) {
	if b.Resolving && b.pending() {
		// Nothing was sent: the branch ends here; its lookup's result
		// will find it ended.
		b.Resolving, b.Status, b.Local = false, 487, true
		fx.cancel = append(fx.cancel, armKey{timerLookup, b.I})
		return
	}
	if !b.pending() && !b.Local || b.CancelOut || !b.Prov || !p.invite() {
		return
	}
	req, err := sipmsg.Parse(b.Req, sipmsg.Datagram)
	if err != nil {
		return
	}
	b.CancelOut = true
	fx.send(&edgeapi.Message{Raw: buildCancel(req), Dest: b.Hop.dest(), Edge: e.edgeFor(p.Src.Edge), CallKey: ck, CallID: p.CallID})
}

// loopHash is the value of this proxy's loop-detection parameter for a
// request (RFC 3261 §16.3 step 4): the fields a spiral changes.
func (e *Engine) loopHash(m *sipmsg.Msg) string {
	h := sha256.New()
	h.Write(m.Bytes(m.RequestURI))
	from, _ := m.From()
	to, _ := m.To()
	cs, _ := m.CSeq()
	h.Write([]byte("|" + from.Tag() + "|" + to.Tag() + "|" + m.CallID() + "|" + strconv.FormatUint(uint64(cs.Seq), 10) + "|" + m.Value(sipmsg.HProxyRequire)))
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// looped reports a Via of ours with the same loop hash: the request came
// back unchanged.
func (e *Engine) looped(m *sipmsg.Msg, loop string) bool {
	vias, err := m.Vias()
	if err != nil {
		return false
	}
	for _, v := range vias {
		if l, ok := v.Params.Get("sbl"); ok && l == loop && e.isSelfHostPort(v.SentBy()) {
			return true
		}
	}
	return false
}

func (e *Engine) local(host string) bool {
	for _, d := range e.cfg.Domains {
		if strings.EqualFold(d, host) {
			return true
		}
	}
	return false
}

func (e *Engine) isSelfURI(u sipmsg.URI) bool {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return e.isSelfHostPort(joinHostPort(u.Host, port)) || (u.User == "" && u.Port == 0 && e.isSelfHostPort(u.Host))
}

func (e *Engine) isSelfHostPort(hp string) bool {
	if strings.EqualFold(hp, e.cfg.Advertise) {
		return true
	}
	for _, l := range e.cfg.Listeners {
		if strings.EqualFold(hp, l) {
			return true
		}
	}
	for _, s := range e.cfg.Self {
		if strings.EqualFold(s, hp) {
			return true
		}
	}
	return false
}

func hasHeader(m *sipmsg.Msg, name string) bool {
	for _, h := range m.Headers {
		if strings.EqualFold(m.Str(h.Name), name) {
			return true
		}
	}
	return false
}

func addrOf(hp string) netip.Addr {
	ap, err := netip.ParseAddrPort(hp)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// groupByQ orders targets by q, highest first, one group per q value.
func groupByQ(ts []Target) [][]Target {
	sorted := append([]Target(nil), ts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Q > sorted[j].Q })
	var groups [][]Target
	for i, t := range sorted {
		if i == 0 || t.Q != sorted[i-1].Q {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], t)
	}
	return groups
}

// Rejected reports an initial INVITE the edge refused statelessly (a bad
// request, Max-Forwards 0): the call starts and is missed at once, so every
// INVITE has its terminal event. Nothing is sent: the edge answered.
func (e *Engine) Rejected(ctx context.Context, in *Inbound, status int) error {
	call := e.newCall(in, false)
	if call == nil || status < 300 {
		return nil
	}
	key := in.TxKey
	if key == "" {
		key = "raw|" + string(in.Msg.Raw)
	}
	p := &ptx{ID: ptxID(key), Method: "INVITE", CallID: in.Msg.CallID(), Call: call, Final: status, Src: in.Src, Req: in.Msg.Raw}
	return e.run(ctx, in.CallKey, p, &effects{}, []Emission{e.callStarted(in.CallKey, p), e.callMissed(in.CallKey, p, e.d.Now())})
}

// Shed answers a new request 503 with Retry-After without routing it: the
// replica is overloaded (see ports.Input). No call events: under overload
// the cheapest answer is the point, and the request is in the log.
func (e *Engine) Shed(ctx context.Context, in *Inbound) error {
	return e.reply(ctx, in, 503, "Service Unavailable", []string{"Retry-After: " + strconv.Itoa(e.cfg.RetryAfter)})
}
