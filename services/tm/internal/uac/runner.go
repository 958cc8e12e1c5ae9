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
	Advertise string // host:port: Via sent-by and the default Contact
	// Listeners maps "tcp", "tls", "ws", "wss" to the edges' listener of
	// that transport (Via sent-by of a request leaving over it).
	Listeners map[string]string
	Domains   []string // local domains: a Request-URI there is an AOR (forked)
	Timers    sipfsm.Timers
	Agent     string        // User-Agent; default "sipbus"
	NoAnswer  time.Duration // default ring bound of an INVITE; default 60s
	// MaxRunning bounds the uacs one replica runs at once; past it a
	// command gets 503 (try another replica, or later); default 10000.
	MaxRunning int
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
	if cfg.MaxRunning <= 0 {
		cfg.MaxRunning = 10000
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
	r := &run{rn: rn, req: req, reply: reply, in: make(chan input, 64), txs: map[string]*tx{}, done: make(chan struct{})}
	rn.mu.Lock()
	if len(rn.active) >= rn.cfg.MaxRunning {
		rn.mu.Unlock()
		reply(&tmapi.Response{Status: 503, Reason: "Service Unavailable", Final: true, Local: true, Error: "too many uac commands in progress on this replica"})
		return
	}
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
		defer close(r.done)
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
	done  chan struct{} // closed when main returned
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
	// the responses of the call's partition; those of its other calls are
	// dropped by their callkey before they are decoded
	sub, err := r.rn.d.NC.Subscribe("sip."+bus.Partition(r.ck)+".in.res.*", func(m *nats.Msg) {
		if bus.CallKeyOf(m.Header) != r.ck {
			return
		}
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

	r.endDialog() // a BYE: before it leaves
	invite := r.req.Method == "INVITE"
	r.dec = NewRun(invite, r.req.ACK != tmapi.ACKByApp, r.req.Auth != nil, len(reqs))
	for i := range reqs {
		t := r.newTx(reqs[i], dests[i], i, targets[i])
		r.bytx = append(r.bytx, t)
		r.step(t, sipfsm.Start, nil)
	}
	var ring <-chan time.Time
	ringFor := time.Duration(0)
	if invite {
		ringFor = r.rn.cfg.NoAnswer
		if r.req.Timeout > 0 {
			ringFor = time.Duration(r.req.Timeout) * time.Second
		}
		ring = time.After(ringFor)
	}
	// A last bound, should a transaction never end: ringing, Timer B after
	// a CANCEL, Timer M.
	bound := time.After(ringFor + r.rn.cfg.Timers.T1*64*3 + time.Minute)
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
