package uac

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// Config tunes the runner.
type Config struct {
	Advertise string   // host:port: Via sent-by and the default Contact
	Domains   []string // local domains: a Request-URI there is an AOR (forked)
	Timers    sipfsm.Timers
	Agent     string        // User-Agent; default "sipbus"
	NoAnswer  time.Duration // default ring bound of an INVITE; default 60s
}

// Sender hands a message to the edges.
type Sender interface {
	Send(ctx context.Context, m *edgeapi.Message) error
}

// Resolver resolves a next hop (RFC 3263).
type Resolver interface {
	Resolve(ctx context.Context, q sipdns.Query) ([]sipdns.Target, error)
}

// Deps are the runner's collaborators.
type Deps struct {
	NC      *nats.Conn
	Send    Sender
	DNS     Resolver    // nil: next hops must be IP addresses
	Locate  app.Locator // nil: no AOR forking
	Dialogs Dialogs
	Log     *slog.Logger
}

// Runner runs uac commands on this replica.
type Runner struct {
	cfg Config
	d   Deps

	mu     sync.Mutex
	active map[string]*run
	wg     sync.WaitGroup
}

// NewRunner returns a runner.
func NewRunner(cfg Config, d Deps) *Runner {
	if cfg.Agent == "" {
		cfg.Agent = "sipbus"
	}
	if cfg.Timers == (sipfsm.Timers{}) {
		cfg.Timers = sipfsm.DefaultTimers()
	}
	if cfg.NoAnswer <= 0 {
		cfg.NoAnswer = 60 * time.Second
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Runner{cfg: cfg, d: d, active: map[string]*run{}}
}

// Reply streams one response to the application.
type Reply func(*tmapi.Response)

// Start runs req; every response goes to reply, the last with Final set.
func (rn *Runner) Start(req *tmapi.UAC, reply Reply) {
	if e := Validate(req); e != nil {
		reply(&tmapi.Response{Status: 400, Reason: "Bad Request", Final: true, Local: true, Error: e.Error(), Field: e.Field})
		return
	}
	if req.ID == "" {
		req.ID = tmapi.NewID()
	}
	r := &run{rn: rn, req: req, reply: reply, in: make(chan input, 64), txs: map[string]*tx{}}
	rn.mu.Lock()
	if _, dup := rn.active[req.ID]; dup {
		rn.mu.Unlock()
		reply(&tmapi.Response{Status: 400, Reason: "Bad Request", Final: true, Local: true, Error: "id: a uac with this id is running", Field: "id"})
		return
	}
	rn.active[req.ID] = r
	rn.mu.Unlock()
	rn.wg.Add(1)
	go func() {
		defer rn.wg.Done()
		defer func() {
			rn.mu.Lock()
			delete(rn.active, req.ID)
			rn.mu.Unlock()
		}()
		r.main()
	}()
}

// Cancel cancels the uac id if this replica runs it.
func (rn *Runner) Cancel(id string) {
	rn.mu.Lock()
	r := rn.active[id]
	rn.mu.Unlock()
	if r != nil {
		select {
		case r.in <- input{cancel: true}:
		default:
		}
	}
}

// Running counts the uacs in progress.
func (rn *Runner) Running() int {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return len(rn.active)
}

// Stop cancels every uac and waits for them (bounded by ctx).
func (rn *Runner) Stop(ctx context.Context) {
	rn.mu.Lock()
	for _, r := range rn.active {
		select {
		case r.in <- input{stop: true}:
		default:
		}
	}
	rn.mu.Unlock()
	done := make(chan struct{})
	go func() { rn.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// input is one thing for a run's loop.
type input struct {
	resp   *sipmsg.Msg
	key    string       // tx of a timer
	timer  sipfsm.Timer // fired
	gen    int          // arming generation of the timer
	cancel bool
	stop   bool
	ring   bool // the INVITE rang too long
}

// tx is one client transaction: a branch of the uac (branch >= 0), or a
// CANCEL, an ACK-less BYE of a late 2xx (branch < 0, nothing passed up).
type tx struct {
	key      string // branch id + "|" + method
	kind     sipfsm.Kind
	state    sipfsm.State
	attempt  int
	raw      []byte
	msg      *sipmsg.Msg
	dest     string
	rel      bool
	branch   int
	target   string
	req      *Req
	timers   map[sipfsm.Timer]int // generation of each armed timer
	ackRaw   []byte               // the ACK of a 2xx, resent on its retransmissions
	gone     bool
	dialog   string
	hopDest  string      // destination of the dialog's in-dialog requests
	finalMsg *sipmsg.Msg // its final response
}

// run is one uac in progress; its fields are touched by main only.
type run struct {
	rn    *Runner
	req   *tmapi.UAC
	reply Reply
	in    chan input
	txs   map[string]*tx
	dec   *Run
	bytx  []*tx // branch index -> tx
	ck    string
	dl    *Dialog // in-dialog requests: the dialog
	gen   int
}

func (r *run) local(status int, reason string) {
	r.reply(&tmapi.Response{Status: status, Reason: reason, Final: true, Local: true, CallID: r.req.CallID})
}

func (r *run) fail(status int, reason, field string, err error) {
	resp := &tmapi.Response{Status: status, Reason: reason, Final: true, Local: true, Error: err.Error(), Field: field}
	r.reply(resp)
}

// main builds the request, sends it and runs the transactions to their end.
func (r *run) main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	reqs, dests, targets, err := r.prepare(ctx)
	cancel()
	if err != nil {
		var fe *FieldError
		var le *localError
		switch {
		case errors.As(err, &fe):
			r.fail(400, "Bad Request", fe.Field, fe)
		case errors.Is(err, ErrNoDialog):
			r.fail(404, "Not Found", "dialog_id", fmt.Errorf("dialog_id: %w", err))
		case errors.As(err, &le):
			r.local(le.status, le.reason)
		default:
			r.rn.d.Log.Warn("tm: uac", "id", r.req.ID, "err", err)
			r.fail(503, "Service Unavailable", "", err)
		}
		return
	}
	if r.req.Method == "ACK" {
		r.sendACKByApp(reqs[0], dests[0])
		return
	}
	r.ck = sipmsg.CallKey(reqs[0].CallID)
	sub, err := r.rn.d.NC.Subscribe("sip."+bus.Partition(r.ck)+".in.res.*."+r.ck, func(m *nats.Msg) {
		s, err := events.DecodeSIP(m)
		if err != nil {
			return
		}
		msg, err := sipmsg.Parse(append([]byte(nil), s.Raw...), sipmsg.FramingOf(s.Transport))
		if err != nil || msg.Request {
			return
		}
		if v, err := msg.TopVia(); err != nil || !strings.HasPrefix(v.Branch, BranchPrefix) {
			return
		}
		select {
		case r.in <- input{resp: msg}:
		default: // a flood of responses: SIP retransmits what matters
		}
	})
	if err != nil {
		r.fail(503, "Service Unavailable", "", fmt.Errorf("subscribe to responses: %w", err))
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = r.rn.d.NC.Flush()

	invite := r.req.Method == "INVITE"
	r.dec = NewRun(invite, r.req.ACK != tmapi.ACKByApp, r.req.Auth != nil, len(reqs))
	for i := range reqs {
		t := r.newTx(reqs[i], dests[i], i, targets[i])
		r.bytx = append(r.bytx, t)
		r.step(t, sipfsm.Start, nil)
	}
	var ring <-chan time.Time
	if invite {
		d := r.rn.cfg.NoAnswer
		if r.req.Timeout > 0 {
			d = time.Duration(r.req.Timeout) * time.Second
		}
		ring = time.After(d)
	}
	bound := time.After(r.rn.cfg.Timers.T1*64*3 + r.rn.cfg.NoAnswer + 2*time.Minute)
	for !r.finished() {
		select {
		case in := <-r.in:
			switch {
			case in.stop:
				r.cancelAll()
				if r.dec.Final == 0 {
					r.local(503, "Service Unavailable: tm is stopping")
					r.dec.Final = 503
				}
				return
			case in.cancel:
				r.cancelAll()
			case in.resp != nil:
				r.onResponse(in.resp)
			case in.timer != "":
				t := r.txs[in.key]
				if t != nil && t.timers[in.timer] == in.gen {
					delete(t.timers, in.timer)
					r.step(t, timerInput(in.timer), nil)
				}
			}
		case <-ring:
			r.cancelAll()
		case <-bound:
			if r.dec.Final == 0 {
				r.local(408, "Request Timeout")
			}
			return
		}
	}
}

// finished: the final went out and every transaction ended.
func (r *run) finished() bool {
	if r.dec.Final == 0 {
		return false
	}
	for _, t := range r.txs {
		if !t.gone {
			return false
		}
	}
	return true
}

type localError struct {
	status int
	reason string
}

func (e *localError) Error() string { return fmt.Sprintf("%d %s", e.status, e.reason) }

// prepare builds the request of each branch and where it goes.
func (r *run) prepare(ctx context.Context) (reqs []*Req, dests []string, targets []string, err error) {
	q := r.req
	if q.DialogID != "" {
		var dl *Dialog
		if q.Method == "ACK" {
			dl, _, err = r.rn.d.Dialogs.Load(ctx, q.DialogID)
		} else {
			dl, err = r.rn.d.Dialogs.NextSeq(ctx, q.DialogID)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		r.dl = dl
		seq := dl.LocalSeq
		if q.Method == "ACK" {
			seq = dl.InviteSeq
		}
		rq := inDialog(dl, q.Method, seq)
		if q.Method == "ACK" || q.Method == "BYE" {
			rq.Contact = ""
		}
		r.fill(rq)
		dest, err := r.hopOf(ctx, dl)
		if err != nil {
			return nil, nil, nil, err
		}
		r.req.CallID = dl.CallID
		return []*Req{rq}, []string{dest}, []string{dl.Target}, nil
	}
	ruri, _ := sipmsg.ParseURI(q.RequestURI)
	from := q.From
	if from == "" {
		from = "<sip:sipbus@" + r.domain() + ">"
	}
	fna, _ := sipmsg.ParseNameAddr(from)
	ftag := q.FromTag
	if ftag == "" {
		ftag = fna.Tag()
	}
	if ftag == "" {
		ftag = sipmsg.NewTag()
	}
	to := q.To
	if to == "" {
		to = "<" + ruri.String() + ">"
	}
	tna, _ := sipmsg.ParseNameAddr(to)
	if q.CallID == "" {
		q.CallID = sipmsg.NewTag() + sipmsg.NewTag() + "@sipbus"
	}
	cseq := q.CSeq
	if cseq == 0 {
		cseq = 1
	}
	contact := q.Contact
	if contact == "" && createsDialog(q.Method) {
		contact = "<sip:sipbus@" + r.rn.cfg.Advertise + ">"
	}
	base := Req{Method: q.Method, RURI: ruri.String(), From: withTag(fna, ftag), To: withTag(tna, q.ToTag),
		CallID: q.CallID, CSeq: cseq, Contact: contact}
	r.fill(&base)
	if q.NextHop != "" {
		dest, err := r.resolve(ctx, "next_hop", q.NextHop)
		if err != nil {
			return nil, nil, nil, err
		}
		base.Routes = append(base.Routes, "<"+q.NextHop+">")
		if u, _ := sipmsg.ParseURI(q.NextHop); !u.Params.Has("lr") {
			base.Routes = nil // a plain outbound proxy address: send there, no Route
		}
		return []*Req{&base}, []string{dest}, []string{q.NextHop}, nil
	}
	if r.localDomain(ruri.Host) && ruri.User != "" && r.rn.d.Locate != nil {
		ts, known, err := r.rn.d.Locate.Lookup(ctx, ruri.User+"@"+ruri.Host)
		switch {
		case err != nil:
			return nil, nil, nil, &localError{503, "Service Unavailable: location lookup failed"}
		case !known:
			return nil, nil, nil, &localError{404, "Not Found"}
		case len(ts) == 0:
			return nil, nil, nil, &localError{480, "Temporarily Unavailable"}
		}
		for _, t := range ts {
			rq := base
			rq.RURI = t.URI
			rq.Routes = append([]string(nil), t.Path...)
			var dest string
			switch {
			case t.Received != "":
				dest = t.Received
			case len(t.Path) > 0:
				na, err := sipmsg.ParseNameAddr(t.Path[0])
				if err != nil {
					continue
				}
				dest, err = r.resolve(ctx, "request_uri", na.URI.String())
				if err != nil {
					continue
				}
			default:
				dest, err = r.resolve(ctx, "request_uri", t.URI)
				if err != nil {
					continue
				}
			}
			reqs, dests, targets = append(reqs, &rq), append(dests, dest), append(targets, t.URI)
		}
		if len(reqs) == 0 {
			return nil, nil, nil, &localError{480, "Temporarily Unavailable: no contact reachable"}
		}
		return reqs, dests, targets, nil
	}
	dest, err := r.resolve(ctx, "request_uri", base.RURI)
	if err != nil {
		return nil, nil, nil, err
	}
	return []*Req{&base}, []string{dest}, []string{base.RURI}, nil
}

// fill copies the command's headers and body.
func (r *run) fill(rq *Req) {
	rq.Headers = r.req.Headers
	rq.Body, rq.CType = r.req.Body, r.req.ContentType
	rq.Agent = r.rn.cfg.Agent
}

func (r *run) domain() string {
	if len(r.rn.cfg.Domains) > 0 {
		return r.rn.cfg.Domains[0]
	}
	return r.rn.cfg.Advertise
}

func (r *run) localDomain(host string) bool {
	host = strings.ToLower(host)
	for _, d := range r.rn.cfg.Domains {
		if host == d {
			return true
		}
	}
	return false
}

// hopOf is where the next request of a dialog goes.
func (r *run) hopOf(ctx context.Context, dl *Dialog) (string, error) {
	if len(dl.Routes) > 0 {
		na, err := sipmsg.ParseNameAddr(dl.Routes[0])
		if err != nil {
			return "", fmt.Errorf("dialog route %q: %w", dl.Routes[0], err)
		}
		return r.resolve(ctx, "dialog_id", na.URI.String())
	}
	if dl.Dest != "" {
		return dl.Dest, nil
	}
	return r.resolve(ctx, "dialog_id", dl.Target)
}

// resolve turns a URI into a sipdest ("udp:ip:port").
func (r *run) resolve(ctx context.Context, field, uri string) (string, error) {
	u, err := sipmsg.ParseURI(uri)
	if err != nil {
		return "", bad(field, "%s: %v", quote(uri), err)
	}
	q, err := sipdns.QueryFor(u)
	if err != nil {
		return "", bad(field, "%s: %v", quote(uri), err)
	}
	var ts []sipdns.Target
	if r.rn.d.DNS != nil {
		ts, err = r.rn.d.DNS.Resolve(ctx, q)
	} else {
		err = sipdns.ErrNoServers
	}
	if err != nil || len(ts) == 0 {
		if errors.Is(err, sipdns.ErrTimeout) {
			return "", &localError{503, "DNS: timeout resolving " + sipdns.Safe(q.Host)}
		}
		return "", &localError{502, "DNS: no such domain " + sipdns.Safe(q.Host)}
	}
	return ts[0].String(), nil
}

func transportOf(dest string) string {
	d, err := events.ParseDest(dest)
	if err != nil {
		return "udp"
	}
	return strings.ToLower(d.Transport)
}

// newTx makes the client transaction of branch i.
func (r *run) newTx(rq *Req, dest string, i int, target string) *tx {
	tr := transportOf(dest)
	branch := BranchPrefix + sipmsg.NewBranch()[len(sipmsg.MagicCookie):]
	raw := rq.Wire(tr, r.rn.cfg.Advertise, branch)
	msg, _ := sipmsg.Parse(raw, sipmsg.Datagram)
	kind := sipfsm.ClientNonInvite
	if rq.Method == "INVITE" {
		kind = sipfsm.ClientInvite
	}
	t := &tx{key: branch + "|" + rq.Method, kind: kind, raw: raw, msg: msg, dest: dest, rel: tr != "udp",
		branch: i, target: target, req: rq, timers: map[sipfsm.Timer]int{}}
	r.txs[t.key] = t
	return t
}

// auxTx starts a CANCEL or BYE transaction whose answers nobody waits for.
func (r *run) auxTx(raw []byte, method, dest string) {
	msg, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		return
	}
	v, _ := msg.TopVia()
	t := &tx{key: v.Branch + "|" + method, kind: sipfsm.ClientNonInvite, raw: raw, msg: msg, dest: dest,
		rel: transportOf(dest) != "udp", branch: -1, timers: map[sipfsm.Timer]int{}}
	r.txs[t.key] = t
	r.step(t, sipfsm.Start, nil)
}

func (r *run) send(raw []byte, dest string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.rn.d.Send.Send(ctx, &edgeapi.Message{Raw: raw, Dest: dest, CallKey: r.ck}); err != nil {
		r.rn.d.Log.Warn("tm: uac send", "id", r.req.ID, "dest", dest, "err", err)
	}
}

func timerInput(t sipfsm.Timer) sipfsm.Input {
	switch t {
	case sipfsm.A:
		return sipfsm.TimerA
	case sipfsm.B:
		return sipfsm.TimerB
	case sipfsm.D:
		return sipfsm.TimerD
	case sipfsm.E:
		return sipfsm.TimerE
	case sipfsm.F:
		return sipfsm.TimerF
	case sipfsm.K:
		return sipfsm.TimerK
	}
	return sipfsm.TimerM
}

// step feeds one input to t's machine and runs its actions.
func (r *run) step(t *tx, in sipfsm.Input, resp *sipmsg.Msg) {
	env := sipfsm.Env{Reliable: t.rel, Timers: r.rn.cfg.Timers, Attempt: t.attempt}
	st, acts, err := sipfsm.Next(t.kind, t.state, in, env)
	if err != nil {
		if in == sipfsm.Recv2xx && t.branch >= 0 && resp != nil {
			r.pass(t, resp) // a 2xx after the transaction ended: the TU's (RFC 6026)
		}
		return
	}
	if in == sipfsm.TimerA || in == sipfsm.TimerE {
		t.attempt++
	}
	t.state = st
	for _, a := range acts {
		switch a.Kind {
		case sipfsm.SendRequest:
			r.send(t.raw, t.dest)
		case sipfsm.SendACK:
			if resp != nil {
				r.send(hopRequest(t.msg, "ACK", resp.Value(sipmsg.HTo)), t.dest)
			}
		case sipfsm.ArmTimer:
			r.gen++
			gen, key, tm := r.gen, t.key, a.Timer
			t.timers[tm] = gen
			time.AfterFunc(a.After, func() {
				select {
				case r.in <- input{key: key, timer: tm, gen: gen}:
				case <-time.After(time.Second):
				}
			})
		case sipfsm.CancelTimer:
			delete(t.timers, a.Timer)
		case sipfsm.PassToTU:
			if t.branch >= 0 && resp != nil {
				r.pass(t, resp)
			}
		case sipfsm.TimeoutToTU, sipfsm.TransportErrorToTU:
			if t.branch >= 0 {
				r.decide(t, 408, nil)
			}
		case sipfsm.Destroy:
			t.gone = true
			t.timers = map[sipfsm.Timer]int{}
		}
	}
	if st == sipfsm.Terminated {
		t.gone = true
	}
}

// onResponse finds the transaction of a response and steps it.
func (r *run) onResponse(m *sipmsg.Msg) {
	v, err := m.TopVia()
	if err != nil {
		return
	}
	cs, err := m.CSeq()
	if err != nil {
		return
	}
	t := r.txs[v.Branch+"|"+cs.Method]
	if t == nil {
		return
	}
	in := sipfsm.Recv3xx6xx
	switch {
	case m.StatusCode < 200:
		in = sipfsm.Recv1xx
	case m.StatusCode < 300:
		in = sipfsm.Recv2xx
	}
	r.step(t, in, m)
}

// pass gives a branch's response to the uac's decision.
func (r *run) pass(t *tx, m *sipmsg.Msg) { r.decide(t, m.StatusCode, m) }

func (r *run) decide(t *tx, status int, m *sipmsg.Msg) {
	if m != nil && status >= 200 && t.finalMsg == nil {
		t.finalMsg = m
	}
	d := r.dec.OnResponse(t.branch, status)
	if d.Stream && m != nil {
		r.reply(r.response(t, m, false))
	}
	for _, i := range d.Cancel {
		r.sendCancel(r.bytx[i])
	}
	if d.Retry && m != nil && !r.retryWithAuth(t, m) {
		// No usable challenge: the 401/407 stands as the branch's answer.
		r.dec.Branches[t.branch].Replaced = false
		d = Decision{}
		if best, done := r.dec.best(); done && r.dec.Final == 0 {
			r.dec.Final = r.dec.Branches[best].Final
			d.Final, d.FinalBranch = true, best
		}
	}
	if d.BYE && m != nil {
		r.ackAndBye(t, m)
		return
	}
	if d.ACK && m != nil && !d.Final && t.ackRaw != nil {
		r.send(t.ackRaw, t.hopDest) // a retransmitted 2xx
	}
	if d.Final {
		r.finalFrom(d, m, t)
	}
}

// finalFrom streams the final of branch d.FinalBranch (m when it is t's).
func (r *run) finalFrom(d Decision, m *sipmsg.Msg, t *tx) {
	bt := r.bytx[d.FinalBranch]
	if bt != t {
		m = bt.finalMsg
	}
	if m == nil {
		r.reply(&tmapi.Response{Status: r.dec.Final, Reason: reasonOf(r.dec.Final), Final: true, Local: true, CallID: r.req.CallID, Contact: bt.target, DialogID: r.dialogID()})
		r.endDialog()
		return
	}
	resp := r.response(bt, m, true)
	if m.StatusCode >= 200 && m.StatusCode < 300 {
		r.won(bt, m, d, resp)
	}
	r.reply(resp)
	r.endDialog()
}

func (r *run) dialogID() string {
	if r.dl != nil {
		return r.dl.ID
	}
	return ""
}

// endDialog removes the dialog a BYE ended (whatever its answer: RFC 3261
// §15.1.2, the dialog is over once the BYE is answered or times out).
func (r *run) endDialog() {
	if r.dl != nil && r.req.Method == "BYE" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.rn.d.Dialogs.Delete(ctx, r.dl.ID); err != nil {
			r.rn.d.Log.Warn("tm: uac", "id", r.req.ID, "err", err)
		}
	}
}

// won handles the 2xx that won: the dialog it creates (stored before the
// application hears of it) and its ACK.
func (r *run) won(t *tx, m *sipmsg.Msg, d Decision, resp *tmapi.Response) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dl := r.dl
	if dl == nil && createsDialog(r.req.Method) {
		var err error
		ftag := ""
		if f, e := t.msg.From(); e == nil {
			ftag = f.Tag()
		}
		dest := ""
		if r.rn.d.Locate != nil && t.target != "" && t.req.RURI == t.target && len(t.req.Routes) == 0 {
			dest = t.dest // a registered contact, maybe behind NAT: keep reaching it there
		}
		dl, err = newDialog(t.req, m, ftag, r.req.Owner, dest, r.req.ACK == tmapi.ACKByApp)
		if err != nil {
			r.rn.d.Log.Warn("tm: uac dialog", "id", r.req.ID, "err", err)
		} else if _, err := r.rn.d.Dialogs.Save(ctx, dl, 0); err != nil {
			r.rn.d.Log.Warn("tm: uac dialog", "id", r.req.ID, "err", err)
		}
	}
	if dl != nil {
		resp.DialogID = dl.ID
	}
	if d.ACK && dl != nil {
		ack := inDialog(dl, "ACK", t.req.CSeq)
		ack.Contact = ""
		ack.Agent = r.rn.cfg.Agent
		dest, err := r.hopOf(ctx, dl)
		if err != nil {
			dest = t.dest
		}
		t.ackRaw = ack.Wire(transportOf(dest), r.rn.cfg.Advertise, BranchPrefix+sipmsg.NewBranch()[len(sipmsg.MagicCookie):])
		t.hopDest = dest
		r.send(t.ackRaw, dest)
	}
}

// ackAndBye ends a 2xx that lost to another branch (RFC 3261 §13.2.2.4).
func (r *run) ackAndBye(t *tx, m *sipmsg.Msg) {
	if t.ackRaw != nil {
		r.send(t.ackRaw, t.hopDest)
		return
	}
	ftag := ""
	if f, e := t.msg.From(); e == nil {
		ftag = f.Tag()
	}
	dl, err := newDialog(t.req, m, ftag, "", t.dest, false)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dest, err := r.hopOf(ctx, dl)
	if err != nil {
		dest = t.dest
	}
	tr := transportOf(dest)
	ack := inDialog(dl, "ACK", t.req.CSeq)
	ack.Contact = ""
	t.ackRaw = ack.Wire(tr, r.rn.cfg.Advertise, BranchPrefix+sipmsg.NewBranch()[len(sipmsg.MagicCookie):])
	t.hopDest = dest
	r.send(t.ackRaw, dest)
	bye := inDialog(dl, "BYE", t.req.CSeq+1)
	bye.Contact = ""
	bye.Agent = r.rn.cfg.Agent
	r.auxTx(bye.Wire(tr, r.rn.cfg.Advertise, BranchPrefix+sipmsg.NewBranch()[len(sipmsg.MagicCookie):]), "BYE", dest)
}

// sendCancel CANCELs branch t (RFC 3261 §9.1).
func (r *run) sendCancel(t *tx) {
	if t == nil || t.gone {
		return
	}
	r.auxTx(hopRequest(t.msg, "CANCEL", ""), "CANCEL", t.dest)
}

func (r *run) cancelAll() {
	if r.dec == nil {
		return
	}
	for _, i := range r.dec.Cancel() {
		r.sendCancel(r.bytx[i])
	}
}

// retryWithAuth sends t's request again with credentials for m's
// challenge (RFC 3261 §22.2: same Call-ID and tags, CSeq + 1, a new
// branch). false: the challenge cannot be answered.
func (r *run) retryWithAuth(t *tx, m *sipmsg.Msg) bool {
	t.finalMsg = m
	hdr, name := sipmsg.HWWWAuthenticate, "Authorization"
	if m.StatusCode == 407 {
		hdr, name = sipmsg.HProxyAuthenticate, "Proxy-Authorization"
	}
	a := r.req.Auth
	for _, v := range m.Values(hdr) {
		ch, err := digest.ParseChallenge(v)
		if err != nil || (a.Realm != "" && ch.Realm != a.Realm) {
			continue
		}
		ha1 := a.HA1
		if a.Password != "" {
			alg := ch.Algorithm
			if alg == "" {
				alg = digest.MD5
			}
			ha1 = digest.HA1(alg, a.User, ch.Realm, a.Password)
		}
		rq := *t.req
		rq.CSeq++
		rq.Auth = name + ": " + digest.Respond(ch, digest.Answer{Method: rq.Method, URI: rq.RURI, User: a.User, HA1: ha1, CNonce: sipmsg.NewTag()})
		i := r.dec.AddBranch()
		nt := r.newTx(&rq, t.dest, i, t.target)
		r.bytx = append(r.bytx, nt)
		r.step(nt, sipfsm.Start, nil)
		return true
	}
	return false
}

// response is the application's view of m.
func (r *run) response(t *tx, m *sipmsg.Msg, final bool) *tmapi.Response {
	resp := &tmapi.Response{Status: m.StatusCode, Reason: m.Str(m.Reason), Final: final, Message: string(m.Raw),
		CallID: m.CallID(), Contact: t.target, DialogID: r.dialogID()}
	if to, err := m.To(); err == nil {
		resp.ToTag = to.Tag()
	}
	if cs, err := m.CSeq(); err == nil {
		resp.CSeq = cs.Seq
	}
	if final {
		t.finalMsg = m
	}
	return resp
}

// sendACKByApp sends the application's ACK of a 2xx (ack "app").
func (r *run) sendACKByApp(rq *Req, dest string) {
	r.ck = sipmsg.CallKey(rq.CallID)
	raw := rq.Wire(transportOf(dest), r.rn.cfg.Advertise, BranchPrefix+sipmsg.NewBranch()[len(sipmsg.MagicCookie):])
	r.send(raw, dest)
	r.reply(&tmapi.Response{Status: 200, Reason: "ACK sent", Final: true, Local: true, CallID: rq.CallID, CSeq: rq.CSeq, DialogID: r.dl.ID})
}

func reasonOf(status int) string {
	switch status {
	case 408:
		return "Request Timeout"
	case 487:
		return "Request Terminated"
	case 480:
		return "Temporarily Unavailable"
	case 503:
		return "Service Unavailable"
	}
	return "Failed"
}
