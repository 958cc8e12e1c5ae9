// Package sipfsm holds the SIP transaction state machines of RFC 3261 §17
// (Figures 5 to 8: client INVITE, client non-INVITE, server INVITE, server
// non-INVITE) as amended by RFC 6026, as one pure function:
//
//	Next(kind, state, input, env) -> (state, []Action, error)
//
// Next does no I/O, reads no clock, starts no goroutine and keeps no state.
// Actions are data (send the request, pass the response to the TU, arm
// timer B for 32s, destroy the transaction) that a thin shell executes. The
// machine can therefore move between replicas: its whole state is a State
// string and a small counter stored with the transaction.
//
// The machines are one table (Transitions returns it, each row naming its
// RFC section), and Next only looks rows up in it, so the documented table
// and the running machine cannot disagree.
//
// # Persistence model
//
// For each transaction the caller stores, in Redis, the Kind, the State,
// Attempt (below) and what the actions need: the request (client) or the
// last response sent (server), the destination and transport. Handling an
// input is then:
//
//  1. Load the transaction. None found: a server request creates one from
//     Initial; anything else is not for a transaction.
//  2. Call Next. If it returns ErrUnexpected, ignore the input (count it).
//  3. Execute the actions in order and save the new state, atomically with
//     respect to other replicas (a Lua script or WATCH/MULTI, comparing the
//     state loaded in step 1). On Destroy, delete the transaction instead.
//
// Timers are deadlines in a shared store (a sorted set of "tx key + timer"
// scored by due time, say). ArmTimer sets the deadline of Action.Timer to
// now + Action.After, replacing any earlier deadline of that timer;
// CancelTimer deletes it. When a deadline passes, whichever replica claims
// it feeds the matching Timer* input to Next. Next never cancels the timer
// being handled: it has fired; when it must run again the actions re-arm it.
//
// Stale timers need no care. When a transition stops a timer Next emits a
// CancelTimer for it (Calling to Proceeding cancels A and B; reaching
// Terminated cancels every timer still running), but a deadline may still
// fire after the state moved on, because the cancel raced it or a replica
// died in between. In every state where a timer is not running, its input is
// not in the table, so Next returns ErrUnexpected and the caller drops it.
// Likewise for a deadline that fires after Destroy: there is no state left
// to load.
//
// # Attempt
//
// Timers A, E and G double on each firing, so Next must know how many times
// the timer fired before. Each kind has at most one such timer (A client
// INVITE, E client non-INVITE, G server INVITE), armed fresh exactly once,
// so the caller keeps one counter per transaction, starting at 0: pass it as
// Env.Attempt when feeding TimerA, TimerE or TimerG, then increment it. The
// re-armed interval is T1*2^(Attempt+1), capped at T2 for E and G (Timer E
// is T2 in Proceeding whatever Attempt is): with the defaults A is re-armed
// at 1s, 2s, 4s, ... and E and G at 1s, 2s, 4s, 4s, ...
//
// # Transport reliability
//
// With Env.Reliable (TCP, TLS, SCTP, WebSocket) the retransmission timers A,
// E and G are never armed: Next leaves their ArmTimer and CancelTimer
// actions out, and their inputs are ErrUnexpected. Timers D, I, J and K are
// zero seconds (RFC 3261 Table 4). sipfsm reads that the way the RFC writes
// it: the state is entered and its timer fires at once. Next returns the
// waiting state (Completed or Confirmed) with an ArmTimer whose After is 0;
// the shell may store a deadline of now, or better, feed the timer input to
// Next at once before saving, which yields Terminated and Destroy. Doing so
// keeps every arrow of the figures in the table: the reliable transport
// changes durations, never transitions.
//
// # Decisions
//
//   - Client INVITE: Timer B only matters in Calling (§17.1.1.2: "still in
//     the Calling state when timer B fires"), so a provisional response
//     cancels A and B; Proceeding runs no timer and waits for the final
//     response (the TU bounds it, with Timer C or a CANCEL).
//   - Client INVITE, RFC 6026 §8.4: a 2xx in Calling or Proceeding goes to
//     Accepted with Timer M (64*T1); every 2xx there is passed to the TU,
//     which sends the ACK for it. The transaction never ACKs a 2xx.
//   - Client: a transport error terminates the transaction and informs the
//     TU (§17.1.4), in the states where the client sends something (Figure
//     5: Calling, Completed; Figure 6: Trying, Proceeding).
//   - Client non-INVITE Completed absorbs every response (it exists "to
//     buffer any additional response retransmissions"); client INVITE
//     Completed answers a retransmitted 300-699 with the ACK again. Other
//     responses in Completed or Accepted are not in the figures and are
//     ErrUnexpected, which the caller ignores alike.
//   - Server INVITE: the 100 (Trying) of §17.2.1 is not an action, because
//     building it needs the request. The shell (or TU) sends it as a Send1xx
//     right after creating the transaction; Proceeding's ResendResponse then
//     always has a provisional response to resend. With nothing sent yet,
//     ResendResponse sends nothing.
//   - Server INVITE, RFC 6026 §8.5 and §8.7: a 2xx from the TU goes to
//     Accepted with Timer L (64*T1). Accepted absorbs INVITE
//     retransmissions, passes every ACK to the TU and sends every 2xx the
//     TU retransmits; it retransmits nothing on its own.
//   - Server, RFC 6026 §8.8: on a transport error a server transaction
//     informs the TU and remains in its current state (this replaces RFC
//     3261 §17.2.4, which moved to Terminated). §17.2.4 covers every server
//     transaction, so sipfsm applies it to non-INVITE too, although Figure 8
//     was not redrawn: staying in Proceeding or Completed keeps absorbing
//     retransmissions instead of passing them to the TU as new requests.
//   - Server non-INVITE Completed discards further final responses from the
//     TU (explicit rows with no actions).
//   - Timer D is 32s on unreliable transports ("at least 32 seconds").
//   - Terminated has no rows: every transition into it ends with Destroy.
//
// Absorbed inputs are explicit rows without actions, so that they differ
// from ErrUnexpected in tests and in the documented table.
package sipfsm
