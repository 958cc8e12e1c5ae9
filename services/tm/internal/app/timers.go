package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/store"
)

// Dialog record.
const (
	dialogKey = "dlg"
	dialogTTL = 12 * time.Hour // longest call tm reports the end of
)

var timerInputs = map[string]sipfsm.Input{
	"A": sipfsm.TimerA, "B": sipfsm.TimerB, "D": sipfsm.TimerD, "E": sipfsm.TimerE,
	"F": sipfsm.TimerF, "K": sipfsm.TimerK, "M": sipfsm.TimerM,
}

// Due handles the deadline of a proxy transaction coming due (the
// Scheduler's callback, run on the call's lane): every timer of the record
// due by now fires, earliest first, and the transaction is written if it
// waited to be (coalesced changes). A transaction that ended meanwhile, or
// whose timers moved on, makes it a no-op.
func (e *Engine) Due(ctx context.Context, callKey, id string) error {
	// In memory, clean and nothing due: the call's next input wrote it
	// after this deadline was taken, or its timers moved on. Nothing to
	// marshal, nothing to commit (under load most coalescing deadlines
	// end so: the 200 overtakes the timer of the 180).
	if c := e.cache.get(cacheKey(callKey, id)); c != nil && !c.dirty {
		if n := c.p.next(); n == 0 || n > e.d.Now().UnixMilli() {
			e.schedule(callKey, c)
			return nil
		}
	}
	err := e.updateFlush(ctx, callKey, id, true, func(p *ptx, fx *effects) error {
		now := e.d.Now().UnixMilli()
		for {
			k := -1
			for i, t := range p.Tmr {
				if t.Due <= now && (k < 0 || t.Due < p.Tmr[k].Due) {
					k = i
				}
			}
			if k < 0 {
				return nil
			}
			t := p.Tmr[k]
			p.Tmr = append(p.Tmr[:k], p.Tmr[k+1:]...)
			e.fire(p, callKey, t, fx)
		}
	})
	if errors.Is(err, store.ErrNotFound) {
		e.d.Sched.Unschedule(callKey, id) // the record expired: nothing left to do
		return nil
	}
	return err
}

// fire runs one timer of p.
func (e *Engine) fire(p *ptx, ck string, t ptimer, fx *effects) {
	switch t.T {
	case "C":
		e.noAnswer(p, ck, fx)
		return
	case timerFailover:
		e.noFirstResponse(p, ck, t.I, fx)
		return
	case timerLookup:
		e.lookupLost(p, ck, t.I, fx)
		return
	}
	in, ok := timerInputs[t.T]
	if !ok {
		e.d.Log.Warn("tm: unknown timer in record", "call_key", ck, "timer", t.T)
		return
	}
	b := p.branch(t.I)
	if b == nil {
		return
	}
	if in.Retransmits() {
		if d := e.retransWait(ck, b, t.Due); d > 0 {
			fx.arms = append(fx.arms, arm{t.T, t.I, d})
			return
		}
	}
	e.step(p, ck, b, in, nil, fx)
}

// retransWait is how much longer a request retransmission (Timer A or E
// of branch b of call ck, over UDP) due at due (unix ms) waits: until
// every input of the call's partition that the edges received before due
// has been handled here (Deps.Behind), up to T2 after due; zero:
// retransmit now.
//
// A retransmission recovers a message lost on the wire. A response that
// waits in this replica's own queue is not lost: it is handled a while
// later, and a retransmission sent meanwhile is load where load is what
// makes the wait (RFC 5390's amplification: it goes through the edge and
// the next hop, which answers it again). It also breaks calls: a UAS that
// answered 200 before the retransmitted INVITE reached it may take the
// INVITE for a new request (SIPp's UAS aborts the call so, RFC 6026's
// Accepted state absorbs it), and the caller's ACK and BYE then meet no
// dialog. Held back once by twice the queue's mean wait (round 28), the
// 200s in the queue's tail, which wait longer than the mean, still broke
// 8-101 calls of an overload step at 2,000 calls/s so (each a 408 to the
// caller's BYE); held until the queue caught up by each input's own
// receive time, 5-28 (bench/RESULTS.md round 30): an edge's workers run
// different calls side by side, so a 200 received before due could still
// wait in one worker's queue while another published a later message of
// the partition. Now each input carries its edge's low watermark (every
// datagram the edge received before it was published ahead of it,
// events.SIP.Low), and a partition's inputs are handled in the order the
// edge published them: once an input whose watermark passed due has been
// handled, every response that edge received in time has been too (round
// 31): the branch no longer calls, and the timer that comes due again
// finds nothing to send. T1 is
// RFC 3261's round-trip estimate, which "MAY be chosen larger" where the
// round trip is known to be longer (§17.1.1.1); a response's trip here
// includes this queue. Timer B and F still bound the transaction: a held-back
// retransmission only moves later in their span.
func (e *Engine) retransWait(ck string, b *branch, due int64) time.Duration {
	if e.d.Behind == nil {
		return 0
	}
	if b.heldFrom == 0 {
		b.heldFrom = due
	}
	from := time.UnixMilli(b.heldFrom)
	d := e.d.Behind(ck, from)
	if d <= 0 || e.d.Now().Add(d).Sub(from) > e.cfg.Timers.T2 {
		b.heldFrom = 0
		return 0
	}
	return d
}

// noAnswer is timer C, the fr_inv_timer heir (RFC 3261 §16.8): every
// pending branch counts as 408; those that rang are cancelled.
func (e *Engine) noAnswer(p *ptx, ck string, fx *effects) {
	if p.Final != 0 || p.Cancelled {
		return
	}
	p.TimedOut = true
	for _, b := range p.Branches {
		if b.pending() {
			b.Status, b.Local = 408, true
			e.cancelBranch(p, ck, b, fx)
		}
	}
	e.complete(p, ck, fx)
}

// dialogOf returns the answered call of a Call-ID: from memory, else from
// the store (after a takeover). nil when there is none.
func (e *Engine) dialogOf(ctx context.Context, callKey string) (*dialog, error) {
	if d := e.cache.dialog(callKey); d != nil {
		return d, nil
	}
	rec, err := e.d.Records.LoadRecord(ctx, callKey, dialogKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d dialog
	if err := json.Unmarshal(rec.Value, &d); err != nil {
		return nil, nil
	}
	return &d, nil
}

// byeEnded adds the end of an answered call to fx when a BYE passes: the
// call.ended event, and the removal of the dialog record in the same
// commit as the BYE's transaction, so a second BYE reports nothing.
func (e *Engine) byeEnded(ctx context.Context, in *Inbound, fx *effects) error {
	d, err := e.dialogOf(ctx, in.CallKey)
	if err != nil || d == nil {
		return err
	}
	hangup := "callee"
	if f, err := in.Msg.From(); err == nil && f.Tag() == d.Call.CallerTag {
		hangup = "caller"
	}
	fx.emits = append(fx.emits, e.callEnded(in.CallKey, d, hangup, "bye"))
	fx.ops = append(fx.ops, store.Op{Kind: store.OpDeleteRecord, CallKey: in.CallKey, Key: dialogKey})
	e.cache.dropDialog(in.CallKey)
	return nil
}
