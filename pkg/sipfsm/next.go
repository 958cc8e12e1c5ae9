package sipfsm

import (
	"errors"
	"time"
)

// ErrUnexpected is returned by Next for an input the table does not define
// in the given kind and state: a stale timer (cancelled, or never armed on a
// reliable transport, whose deadline fired anyway), a message that arrived
// too late or out of order, an unknown kind, state or input. The state is
// unchanged and there are no actions; callers ignore the input (and may
// count it). Next returns this sentinel itself, unwrapped, so that
// ignoring stale timers costs no allocation.
var ErrUnexpected = errors.New("sipfsm: unexpected input")

// timerD is Timer D on unreliable transports: "at least 32 seconds"
// (RFC 3261 §17.1.1.2); sipfsm uses exactly that.
const timerD = 32 * time.Second

// Next runs one transition: given the kind of transaction, its current state
// and an input, it returns the new state and the actions to execute, in
// order. It is pure: no I/O, no clock, no goroutines, and safe for
// concurrent use.
//
// Inputs the table does not define for (k, s) return s, nil and
// ErrUnexpected. On a reliable transport TimerA, TimerE and TimerG are
// always unexpected (those timers never run there), and the ArmTimer and
// CancelTimer actions for A, E and G are left out.
//
// The returned slice is the caller's, backed by a working array Next
// declares. Next is small enough to be inlined, so when the caller does not
// keep the slice beyond its own frame the array lives on the caller's stack
// and Next allocates nothing; otherwise it allocates once.
func Next(k Kind, s State, in Input, env Env) (State, []Action, error) {
	return (&frame{env: env}).next(k, s, in)
}

// frame is Next's working memory: the Env and the array the returned actions
// live in. Building one composite value is what keeps Next within the
// compiler's inlining budget (checked by TestNextDoesNotAllocate).
type frame struct {
	env Env
	buf [maxActions]Action
}

func (f *frame) next(k Kind, s State, in Input) (State, []Action, error) {
	env, buf := &f.env, &f.buf
	r := lookup(k, s, in)
	if r == nil || (env.Reliable && timerOf(in).retransmits()) {
		return s, nil, ErrUnexpected
	}
	n := 0
	for _, st := range r.steps {
		if env.Reliable && st.timer.retransmits() {
			continue
		}
		a := Action{Kind: st.kind, Timer: st.timer}
		if st.kind == ArmTimer {
			a.After = after(st.timer, r.from, in, env)
		}
		buf[n] = a
		n++
	}
	if n == 0 {
		return r.to, nil, nil
	}
	return r.to, buf[:n:n], nil
}

// after is the duration of timer t armed by input in from state from
// (RFC 3261 Table 4; RFC 6026 adds L and M, both 64*T1).
func after(t Timer, from State, in Input, env *Env) time.Duration {
	ts := env.timers()
	switch t {
	case A:
		// Starts at T1 and doubles on every firing. Timer B (64*T1) ends the
		// Calling state first, so capping at 64*T1 changes nothing and
		// keeps the value from overflowing.
		if in == TimerA {
			return backoff(ts.T1, 64*ts.T1, env.Attempt)
		}
		return ts.T1
	case E:
		switch {
		case in != TimerE:
			return ts.T1
		case from == Proceeding:
			return ts.T2
		default:
			return backoff(ts.T1, ts.T2, env.Attempt)
		}
	case G:
		if in == TimerG {
			return backoff(ts.T1, ts.T2, env.Attempt)
		}
		return ts.T1
	case B, F, H, L, M:
		return 64 * ts.T1
	case D:
		if env.Reliable {
			return 0
		}
		return timerD
	case I, K:
		if env.Reliable {
			return 0
		}
		return ts.T4
	case J:
		if env.Reliable {
			return 0
		}
		return 64 * ts.T1
	}
	return 0
}

// backoff is the next interval of a retransmission timer that starts at t1
// and has fired attempt times before this firing: MIN(t1 * 2^(attempt+1),
// limit). It never overflows and takes at most 64 steps whatever attempt is.
func backoff(t1, limit time.Duration, attempt int) time.Duration {
	if t1 <= 0 || t1 >= limit {
		return min(t1, limit)
	}
	attempt = max(attempt, 0)
	d := t1
	for i := 0; i <= attempt; i++ {
		if d > limit/2 {
			return limit
		}
		d *= 2
	}
	return d
}
