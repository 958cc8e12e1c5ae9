package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Timer handles a due timer claimed from the store. A timer that means
// nothing any more (its transaction ended or moved on) is dropped.
func (e *Engine) Timer(ctx context.Context, payload []byte) error {
	var t timerPayload
	if err := json.Unmarshal(payload, &t); err != nil {
		return fmt.Errorf("tm: bad timer payload: %w", err)
	}
	var err error
	switch t.Timer {
	case "C":
		err = e.update(ctx, t.CallKey, t.PTx, func(p *ptx, fx *effects) error {
			e.noAnswer(p, t.CallKey, fx)
			return nil
		})
	case "G":
		err = e.timerG(ctx, t)
	case "H":
		err = e.d.Timers.CancelBatch(ctx, []string{timerID(t.CallKey, t.PTx, -1, "G")})
	default:
		in, ok := timerInputs[t.Timer]
		if !ok {
			return fmt.Errorf("tm: unknown timer %q", t.Timer)
		}
		err = e.update(ctx, t.CallKey, t.PTx, func(p *ptx, fx *effects) error {
			if b := p.branch(t.Branch); b != nil {
				e.step(p, t.CallKey, b, in, nil, fx)
			}
			return nil
		})
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
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

// timerG retransmits a non-2xx final upstream while the edge has not seen
// its ACK (the server transaction is still "completed").
func (e *Engine) timerG(ctx context.Context, t timerPayload) error {
	p, _, err := e.load(ctx, t.CallKey, t.PTx)
	if err != nil {
		return err
	}
	tx, err := e.d.Tx.Get(ctx, t.CallKey, p.ServerKey)
	if err != nil {
		return err
	}
	if tx.State != string(sipfsm.Completed) || len(tx.LastResponse) == 0 || tx.LastStatus < 300 {
		return nil
	}
	if err := e.d.Send.Send(ctx, e.upstream(p.Src, tx.LastResponse, "", t.CallKey)); err != nil {
		e.d.Log.Warn("tm: timer G resend", "call_key", t.CallKey, "err", err)
	}
	next := e.cfg.Timers.T1 << (t.Attempt + 1)
	if next > e.cfg.Timers.T2 || next <= 0 {
		next = e.cfg.Timers.T2
	}
	fx := &effects{}
	e.armPTxAttempt(p, t.CallKey, "G", next, t.Attempt+1, fx)
	return e.armAll(ctx, fx)
}

// byeEnded reports the end of an answered call when a BYE passes.
func (e *Engine) byeEnded(ctx context.Context, in *Inbound) error {
	rec, err := e.d.Records.LoadRecord(ctx, in.CallKey, dialogKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var d dialog
	if err := json.Unmarshal(rec.Value, &d); err != nil {
		return nil
	}
	hangup := "callee"
	if f, err := in.Msg.From(); err == nil && f.Tag() == d.Call.CallerTag {
		hangup = "caller"
	}
	return e.run(ctx, &effects{emits: []Emission{e.callEnded(in.CallKey, &d, hangup, "bye")}})
}
