package sipfsm

// The transition table. Each row is one arrow (or one absorbed input) of
// RFC 3261 Figures 5-8 as amended by RFC 6026. Steps are listed in the order
// the caller executes them: cancel timers, transmit, inform the TU, arm
// timers, destroy.

// Sections cited by the rows.
const (
	secICT    = "RFC 3261 §17.1.1.2"
	secICT2xx = "RFC 6026 §8.4"
	secNICT   = "RFC 3261 §17.1.2.2"
	secIST    = "RFC 3261 §17.2.1"
	secIST2xx = "RFC 6026 §8.5"
	secISTAcc = "RFC 6026 §8.7"
	secNIST   = "RFC 3261 §17.2.2"
	secSrvErr = "RFC 6026 §8.8"
)

// step is an action before Next computes its duration.
type step struct {
	kind  ActionKind
	timer Timer
}

// row is one transition.
type row struct {
	kind  Kind
	from  State
	in    Input
	to    State
	steps []step
	sec   string
}

// Step constructors, to keep the table readable.
func arm(t Timer) step    { return step{kind: ArmTimer, timer: t} }
func cancel(t Timer) step { return step{kind: CancelTimer, timer: t} }
func do(k ActionKind) step {
	return step{kind: k}
}

var (
	sendReq    = do(SendRequest)
	sendACK    = do(SendACK)
	toTU       = do(PassToTU)
	sendResp   = do(SendResponse)
	resendResp = do(ResendResponse)
	timeout    = do(TimeoutToTU)
	tpErr      = do(TransportErrorToTU)
	destroy    = do(Destroy)
)

func steps(s ...step) []step { return s }

// rows is the whole table: Figure 5, 6, 7, 8 in turn.
var rows = []row{
	// Client INVITE, Figure 5 (RFC 6026 Figure 5).
	{ClientInvite, Initial, Start, Calling, steps(sendReq, arm(A), arm(B)), secICT},
	{ClientInvite, Calling, TimerA, Calling, steps(sendReq, arm(A)), secICT},
	{ClientInvite, Calling, TimerB, Terminated, steps(cancel(A), timeout, destroy), secICT},
	{ClientInvite, Calling, TransportError, Terminated, steps(cancel(A), cancel(B), tpErr, destroy), secICT},
	{ClientInvite, Calling, Recv1xx, Proceeding, steps(cancel(A), cancel(B), toTU), secICT},
	{ClientInvite, Calling, Recv2xx, Accepted, steps(cancel(A), cancel(B), toTU, arm(M)), secICT2xx},
	{ClientInvite, Calling, Recv3xx6xx, Completed, steps(cancel(A), cancel(B), sendACK, toTU, arm(D)), secICT},
	{ClientInvite, Proceeding, Recv1xx, Proceeding, steps(toTU), secICT},
	{ClientInvite, Proceeding, Recv2xx, Accepted, steps(toTU, arm(M)), secICT2xx},
	{ClientInvite, Proceeding, Recv3xx6xx, Completed, steps(sendACK, toTU, arm(D)), secICT},
	{ClientInvite, Completed, Recv3xx6xx, Completed, steps(sendACK), secICT},
	{ClientInvite, Completed, TransportError, Terminated, steps(cancel(D), tpErr, destroy), secICT},
	{ClientInvite, Completed, TimerD, Terminated, steps(destroy), secICT},
	{ClientInvite, Accepted, Recv2xx, Accepted, steps(toTU), secICT2xx},
	{ClientInvite, Accepted, TimerM, Terminated, steps(destroy), secICT2xx},

	// Client non-INVITE, Figure 6.
	{ClientNonInvite, Initial, Start, Trying, steps(sendReq, arm(E), arm(F)), secNICT},
	{ClientNonInvite, Trying, TimerE, Trying, steps(sendReq, arm(E)), secNICT},
	{ClientNonInvite, Trying, TimerF, Terminated, steps(cancel(E), timeout, destroy), secNICT},
	{ClientNonInvite, Trying, TransportError, Terminated, steps(cancel(E), cancel(F), tpErr, destroy), secNICT},
	{ClientNonInvite, Trying, Recv1xx, Proceeding, steps(toTU), secNICT},
	{ClientNonInvite, Trying, Recv2xx, Completed, steps(cancel(E), cancel(F), toTU, arm(K)), secNICT},
	{ClientNonInvite, Trying, Recv3xx6xx, Completed, steps(cancel(E), cancel(F), toTU, arm(K)), secNICT},
	{ClientNonInvite, Proceeding, TimerE, Proceeding, steps(sendReq, arm(E)), secNICT},
	{ClientNonInvite, Proceeding, TimerF, Terminated, steps(cancel(E), timeout, destroy), secNICT},
	{ClientNonInvite, Proceeding, TransportError, Terminated, steps(cancel(E), cancel(F), tpErr, destroy), secNICT},
	{ClientNonInvite, Proceeding, Recv1xx, Proceeding, steps(toTU), secNICT},
	{ClientNonInvite, Proceeding, Recv2xx, Completed, steps(cancel(E), cancel(F), toTU, arm(K)), secNICT},
	{ClientNonInvite, Proceeding, Recv3xx6xx, Completed, steps(cancel(E), cancel(F), toTU, arm(K)), secNICT},
	{ClientNonInvite, Completed, Recv1xx, Completed, nil, secNICT},
	{ClientNonInvite, Completed, Recv2xx, Completed, nil, secNICT},
	{ClientNonInvite, Completed, Recv3xx6xx, Completed, nil, secNICT},
	{ClientNonInvite, Completed, TimerK, Terminated, steps(destroy), secNICT},

	// Server INVITE, Figure 7 (RFC 6026 Figure 7).
	{ServerInvite, Initial, RecvRequest, Proceeding, steps(toTU), secIST},
	{ServerInvite, Proceeding, RecvRequest, Proceeding, steps(resendResp), secIST},
	{ServerInvite, Proceeding, Send1xx, Proceeding, steps(sendResp), secIST},
	{ServerInvite, Proceeding, Send2xx, Accepted, steps(sendResp, arm(L)), secIST2xx},
	{ServerInvite, Proceeding, Send3xx6xx, Completed, steps(sendResp, arm(G), arm(H)), secIST},
	{ServerInvite, Proceeding, TransportError, Proceeding, steps(tpErr), secSrvErr},
	{ServerInvite, Completed, RecvRequest, Completed, steps(resendResp), secIST},
	{ServerInvite, Completed, TimerG, Completed, steps(resendResp, arm(G)), secIST},
	{ServerInvite, Completed, RecvACK, Confirmed, steps(cancel(G), cancel(H), arm(I)), secIST},
	{ServerInvite, Completed, TimerH, Terminated, steps(cancel(G), timeout, destroy), secIST},
	{ServerInvite, Completed, TransportError, Completed, steps(tpErr), secSrvErr},
	{ServerInvite, Confirmed, RecvACK, Confirmed, nil, secIST},
	{ServerInvite, Confirmed, TimerI, Terminated, steps(destroy), secIST},
	{ServerInvite, Accepted, RecvRequest, Accepted, nil, secISTAcc},
	{ServerInvite, Accepted, RecvACK, Accepted, steps(toTU), secISTAcc},
	{ServerInvite, Accepted, Send2xx, Accepted, steps(sendResp), secISTAcc},
	{ServerInvite, Accepted, TimerL, Terminated, steps(destroy), secISTAcc},
	{ServerInvite, Accepted, TransportError, Accepted, steps(tpErr), secSrvErr},

	// Server non-INVITE, Figure 8.
	{ServerNonInvite, Initial, RecvRequest, Trying, steps(toTU), secNIST},
	{ServerNonInvite, Trying, RecvRequest, Trying, nil, secNIST},
	{ServerNonInvite, Trying, Send1xx, Proceeding, steps(sendResp), secNIST},
	{ServerNonInvite, Trying, Send2xx, Completed, steps(sendResp, arm(J)), secNIST},
	{ServerNonInvite, Trying, Send3xx6xx, Completed, steps(sendResp, arm(J)), secNIST},
	{ServerNonInvite, Proceeding, RecvRequest, Proceeding, steps(resendResp), secNIST},
	{ServerNonInvite, Proceeding, Send1xx, Proceeding, steps(sendResp), secNIST},
	{ServerNonInvite, Proceeding, Send2xx, Completed, steps(sendResp, arm(J)), secNIST},
	{ServerNonInvite, Proceeding, Send3xx6xx, Completed, steps(sendResp, arm(J)), secNIST},
	{ServerNonInvite, Proceeding, TransportError, Proceeding, steps(tpErr), secSrvErr},
	{ServerNonInvite, Completed, RecvRequest, Completed, steps(resendResp), secNIST},
	{ServerNonInvite, Completed, Send2xx, Completed, nil, secNIST},
	{ServerNonInvite, Completed, Send3xx6xx, Completed, nil, secNIST},
	{ServerNonInvite, Completed, TransportError, Completed, steps(tpErr), secSrvErr},
	{ServerNonInvite, Completed, TimerJ, Terminated, steps(destroy), secNIST},
}

// maxActions bounds the actions of one transition; index checks it.
const maxActions = 6

// index maps (kind, state, input) to 1 + the row's position in rows; 0
// means no transition. It is built once from rows and never written again.
var index = buildIndex(rows)

type indexTable [ServerNonInvite + 1][len(states)][maxInput + 1]uint8

func buildIndex(rs []row) *indexTable {
	var t indexTable
	if len(rs) >= 1<<8 {
		panic("sipfsm: too many rows for a uint8 index")
	}
	for i, r := range rs {
		si := stateIndex(r.from)
		switch {
		case r.kind < ClientInvite || r.kind > ServerNonInvite, si < 0, stateIndex(r.to) < 0,
			r.in < Start || r.in > maxInput, len(r.steps) > maxActions:
			panic("sipfsm: malformed row " + r.kind.String() + "/" + string(r.from) + "/" + r.in.String())
		case t[r.kind][si][r.in] != 0:
			panic("sipfsm: duplicate row " + r.kind.String() + "/" + string(r.from) + "/" + r.in.String())
		}
		t[r.kind][si][r.in] = uint8(i + 1)
	}
	return &t
}

// lookup returns the row for (k, s, in), or nil.
func lookup(k Kind, s State, in Input) *row {
	si := stateIndex(s)
	if k < ClientInvite || k > ServerNonInvite || si < 0 || in < Start || in > maxInput {
		return nil
	}
	if i := index[k][si][in]; i != 0 {
		return &rows[i-1]
	}
	return nil
}

// Transition is one row of the table, for documentation and coverage tests.
// Actions are the kinds Next returns on an unreliable transport; on a
// reliable one Next leaves out ArmTimer and CancelTimer for A, E and G, and
// the rows whose input is TimerA, TimerE or TimerG do not apply.
type Transition struct {
	Kind    Kind
	From    State
	Input   Input
	To      State
	Actions []ActionKind
	Section string // e.g. "RFC 3261 §17.1.1.2" or "RFC 6026 §8.4"
}

// Transitions returns a copy of the table Next runs on, grouped by kind in
// the order of RFC 3261 Figures 5 to 8.
func Transitions() []Transition {
	out := make([]Transition, len(rows))
	for i, r := range rows {
		var acts []ActionKind
		if len(r.steps) > 0 {
			acts = make([]ActionKind, len(r.steps))
			for j, s := range r.steps {
				acts[j] = s.kind
			}
		}
		out[i] = Transition{Kind: r.kind, From: r.from, Input: r.in, To: r.to, Actions: acts, Section: r.sec}
	}
	return out
}
