// Package app is click-to-dial's decision core: a pure state machine
// Next(state, input) -> (state, []Action) and the message/sipfrag parser.
// It knows no NATS, Redis or SIP library types; the shell (package ctd)
// loads a call's State from the store, calls Next, stores the new State
// with a compare-and-set on its version, then carries out the actions
// (requests through tm's uac, progress events, the deadline index).
//
// The flow is the one of the seeds' ctd.sh, made explicit:
//
//	trying ──2xx from a caller phone──► caller_answered ──202──► referred
//	   │  (INVITE with SDP on hold,        (ACK, CANCEL the     │ NOTIFY 100
//	   │   to every registered phone)       other phones, REFER)│
//	   │                                                        ▼ NOTIFY 180/183
//	   │                                                  callee_ringing
//	   │                                                        │ NOTIFY 2xx
//	   │                                                        ▼
//	   └──────► failed(reason) / cancelled               connected (BYE the caller)
//
// REFER rejected (RFC 3515 §2.4.2: 501, 405, 603, 489, or no answer) turns
// into RFC 3725 third-party call control, flow I, when the policy allows
// it: a re-INVITE without SDP to the caller, its offer sent to the callee
// in an INVITE, the callee's answer in the ACK to the caller.
//
// Decisions where the RFCs are silent (documented in the README too):
//   - a NOTIFY before the 202 (RFC 3515 §2.4.7, RFC 6665 §4.1.2.4: the 202
//     may be lost or reordered) is taken as the REFER's acceptance;
//   - a NOTIFY after the call ended is answered 200 by the port and changes
//     nothing (Input Ignored);
//   - the caller hanging up after the REFER was accepted does not end the
//     click-to-dial: phones often end the transferor's call themselves,
//     and the subscription usage survives the BYE (RFC 5057 §5.5);
//   - no NOTIFY within NotifyTimeout after the 202 ends the call with a
//     BYE (failed "no NOTIFY"), not with 3PCC, unless the policy asks:
//     after a 202 the phone may already be calling the callee, and a
//     second INVITE to the callee would ring it twice;
//   - a DELETE after the REFER was accepted sends BYE to the caller only:
//     the transferred call is the caller phone's own call now.
package app
