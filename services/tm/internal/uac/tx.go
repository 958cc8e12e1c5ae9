package uac

import (
	"context"
	"time"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// newTx makes the client transaction of branch i.
func (r *run) newTx(rq *Req, dest string, i int, target string) *tx {
	tr := transportOf(dest)
	branch := newBranch()
	raw := rq.Wire(tr, r.sentBy(tr), branch)
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
	if in.Retransmits() {
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
				case <-r.done:
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
