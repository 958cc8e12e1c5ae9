package sipfsm

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Kind is the kind of transaction, one state machine each.
type Kind uint8

// The four transaction kinds of RFC 3261 §17.
const (
	ClientInvite    Kind = iota + 1 // Figure 5, RFC 3261 §17.1.1, amended by RFC 6026
	ClientNonInvite                 // Figure 6, RFC 3261 §17.1.2
	ServerInvite                    // Figure 7, RFC 3261 §17.2.1, amended by RFC 6026
	ServerNonInvite                 // Figure 8, RFC 3261 §17.2.2
)

var kindNames = [...]string{
	ClientInvite:    "ClientInvite",
	ClientNonInvite: "ClientNonInvite",
	ServerInvite:    "ServerInvite",
	ServerNonInvite: "ServerNonInvite",
}

// String returns the constant's name, for logs.
func (k Kind) String() string {
	if k >= ClientInvite && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// State is a transaction state. The values are stable wire names: callers
// store them in Redis.
type State string

// The states of RFC 3261 §17 and RFC 6026 (Accepted).
const (
	Initial    State = ""           // before Start (client) / before the request is received (server)
	Calling    State = "calling"    // client INVITE
	Trying     State = "trying"     // client and server non-INVITE
	Proceeding State = "proceeding" // all kinds
	Completed  State = "completed"  // all kinds
	Confirmed  State = "confirmed"  // server INVITE
	Accepted   State = "accepted"   // client and server INVITE (RFC 6026)
	Terminated State = "terminated" // all kinds; the state is deleted
)

// states lists every State; its order is the table's state index.
var states = [...]State{Initial, Calling, Trying, Proceeding, Completed, Confirmed, Accepted, Terminated}

// stateIndex is the position of s in states, or -1 for an unknown state.
func stateIndex(s State) int {
	switch s {
	case Initial:
		return 0
	case Calling:
		return 1
	case Trying:
		return 2
	case Proceeding:
		return 3
	case Completed:
		return 4
	case Confirmed:
		return 5
	case Accepted:
		return 6
	case Terminated:
		return 7
	}
	return -1
}

// Input is an event fed to a state machine: a message from the transport, a
// request or response from the TU, a timer firing or a transport error.
type Input uint8

// Inputs. Recv* are messages from the network, Send* responses from the TU,
// Timer* deadlines that passed.
const (
	// Client side.

	Start      Input = iota + 1 // TU hands the request to a new client transaction (from Initial)
	Recv1xx                     // a provisional response arrived
	Recv2xx                     // a 2xx response arrived
	Recv3xx6xx                  // a 300-699 response arrived
	TimerA
	TimerB
	TimerD
	TimerE
	TimerF
	TimerK
	TimerM
	TransportError // the transport failed to send (client and server side)

	// Server side.

	RecvRequest // the request: from Initial it creates the transaction; later it is a retransmission
	RecvACK     // an ACK matching the server INVITE transaction
	Send1xx     // the TU sends a provisional response
	Send2xx     // the TU sends a 2xx response
	Send3xx6xx  // the TU sends a 300-699 response
	TimerG
	TimerH
	TimerI
	TimerJ
	TimerL

	maxInput = TimerL
)

var inputNames = [...]string{
	Start:          "Start",
	Recv1xx:        "Recv1xx",
	Recv2xx:        "Recv2xx",
	Recv3xx6xx:     "Recv3xx6xx",
	TimerA:         "TimerA",
	TimerB:         "TimerB",
	TimerD:         "TimerD",
	TimerE:         "TimerE",
	TimerF:         "TimerF",
	TimerK:         "TimerK",
	TimerM:         "TimerM",
	TransportError: "TransportError",
	RecvRequest:    "RecvRequest",
	RecvACK:        "RecvACK",
	Send1xx:        "Send1xx",
	Send2xx:        "Send2xx",
	Send3xx6xx:     "Send3xx6xx",
	TimerG:         "TimerG",
	TimerH:         "TimerH",
	TimerI:         "TimerI",
	TimerJ:         "TimerJ",
	TimerL:         "TimerL",
}

// String returns the constant's name, for logs.
func (i Input) String() string {
	if i >= Start && i <= maxInput {
		return inputNames[i]
	}
	return "Input(" + strconv.Itoa(int(i)) + ")"
}

// Timer names a timer of RFC 3261 Table 4 (and RFC 6026 for L and M). The
// values are stable wire names: callers use them in Redis deadline keys.
type Timer string

// The timers.
const (
	A Timer = "A" // client INVITE request retransmission (unreliable transports only)
	B Timer = "B" // client INVITE transaction timeout
	D Timer = "D" // client INVITE wait for response retransmissions
	E Timer = "E" // client non-INVITE request retransmission (unreliable transports only)
	F Timer = "F" // client non-INVITE transaction timeout
	G Timer = "G" // server INVITE response retransmission (unreliable transports only)
	H Timer = "H" // server INVITE wait for ACK
	I Timer = "I" // server INVITE wait for ACK retransmissions
	J Timer = "J" // server non-INVITE wait for request retransmissions
	K Timer = "K" // client non-INVITE wait for response retransmissions
	L Timer = "L" // server INVITE wait in Accepted (RFC 6026)
	M Timer = "M" // client INVITE wait in Accepted (RFC 6026)
)

// retransmits reports whether t is a retransmission timer (A, E, G), which
// runs on unreliable transports only.
func (t Timer) retransmits() bool { return t == A || t == E || t == G }

// Retransmits reports whether in is a retransmission timer's input
// (TimerA, TimerE, TimerG): the inputs that take Env.Attempt, which the
// caller increments after feeding one.
func (i Input) Retransmits() bool { return timerOf(i).retransmits() }

// timerOf is the timer an input reports, or "" when in is not a timer input.
func timerOf(in Input) Timer {
	switch in {
	case TimerA:
		return A
	case TimerB:
		return B
	case TimerD:
		return D
	case TimerE:
		return E
	case TimerF:
		return F
	case TimerK:
		return K
	case TimerM:
		return M
	case TimerG:
		return G
	case TimerH:
		return H
	case TimerI:
		return I
	case TimerJ:
		return J
	case TimerL:
		return L
	}
	return ""
}

// ActionKind is what the caller must do.
type ActionKind uint8

// Action kinds.
const (
	SendRequest        ActionKind = iota + 1 // transmit / retransmit the request
	SendACK                                  // client INVITE: send the ACK for a 300-699 (again on every retransmitted final in Completed)
	PassToTU                                 // pass the received response (client) or request/ACK (server) to the TU
	SendResponse                             // server: transmit the TU's response (and remember it as the last response)
	ResendResponse                           // server: retransmit the last response, if any (on a retransmitted request or Timer G)
	ArmTimer                                 // store a deadline Action.After from now for Action.Timer, replacing any earlier one
	CancelTimer                              // delete the deadline of Action.Timer
	TimeoutToTU                              // inform the TU of a timeout (Timer B, F or H)
	TransportErrorToTU                       // inform the TU of a transport error
	Destroy                                  // the transaction is terminated: delete its state

	maxActionKind = Destroy
)

var actionNames = [...]string{
	SendRequest:        "SendRequest",
	SendACK:            "SendACK",
	PassToTU:           "PassToTU",
	SendResponse:       "SendResponse",
	ResendResponse:     "ResendResponse",
	ArmTimer:           "ArmTimer",
	CancelTimer:        "CancelTimer",
	TimeoutToTU:        "TimeoutToTU",
	TransportErrorToTU: "TransportErrorToTU",
	Destroy:            "Destroy",
}

// String returns the constant's name, for logs.
func (a ActionKind) String() string {
	if a >= SendRequest && a <= maxActionKind {
		return actionNames[a]
	}
	return "ActionKind(" + strconv.Itoa(int(a)) + ")"
}

// Action is one thing the caller must do, in the order Next returns them.
// Timer is set for ArmTimer and CancelTimer, After for ArmTimer only.
type Action struct {
	Kind  ActionKind
	Timer Timer
	After time.Duration
}

// String formats the action for logs: "SendRequest", "ArmTimer(A, 500ms)",
// "CancelTimer(B)".
func (a Action) String() string {
	switch a.Kind {
	case ArmTimer:
		return fmt.Sprintf("%s(%s, %s)", a.Kind, a.Timer, a.After)
	case CancelTimer:
		return fmt.Sprintf("%s(%s)", a.Kind, a.Timer)
	}
	return a.Kind.String()
}

// Timers are the base timer values of RFC 3261 Table 4.
type Timers struct {
	// T1 is the RTT estimate. Default 500ms.
	T1 time.Duration
	// T2 is the maximum retransmission interval for non-INVITE requests and
	// INVITE responses. Default 4s.
	T2 time.Duration
	// T4 is the maximum duration a message remains in the network. Default 5s.
	T4 time.Duration
}

// DefaultTimers returns the RFC 3261 defaults: T1 500ms, T2 4s, T4 5s.
func DefaultTimers() Timers {
	return Timers{T1: 500 * time.Millisecond, T2: 4 * time.Second, T4: 5 * time.Second}
}

// Validate reports every problem with t, each naming its field: T1 must be
// positive, T2 at least T1, T4 positive. The zero Timers is not valid here;
// only Env treats it as DefaultTimers.
func (t Timers) Validate() error {
	var errs []error
	if t.T1 <= 0 {
		errs = append(errs, fmt.Errorf("sipfsm: T1 must be positive, got %s", t.T1))
	}
	if t.T2 < t.T1 {
		errs = append(errs, fmt.Errorf("sipfsm: T2 must be at least T1 (%s), got %s", t.T1, t.T2))
	}
	if t.T4 <= 0 {
		errs = append(errs, fmt.Errorf("sipfsm: T4 must be positive, got %s", t.T4))
	}
	return errors.Join(errs...)
}

// Env is what Next needs to know besides the state and input.
type Env struct {
	// Reliable is true for reliable transports (TCP, TLS, SCTP, WS): the
	// retransmission timers A, E and G never run, and D, I, J and K are 0.
	Reliable bool
	// Timers are T1, T2 and T4; the zero value means DefaultTimers(). Next
	// does not validate them: validate configuration once with
	// Timers.Validate.
	Timers Timers
	// Attempt is how many times the retransmission timer being handled (A,
	// E or G) had already fired before this firing: 0 the first time. Only
	// TimerA, TimerE and TimerG read it; see the package documentation.
	Attempt int
}

func (env *Env) timers() Timers {
	if env.Timers == (Timers{}) {
		return DefaultTimers()
	}
	return env.Timers
}
