// Package tm is the sipbus transaction manager, the heir of SER's tm module:
// the route table, stateful relay (t_relay), timers (fr_timer /
// fr_inv_timer), CANCEL and ACK handling, parallel and serial forking,
// failure handling (failure_route) and call lifecycle events.
//
// tm's state outlives its process. Replicas share the 256 partitions of the
// call keys (rendezvous hashing over a membership set in Redis); the owner
// of a partition subscribes to its SIP messages, keeps its calls'
// transactions in memory and writes them to Redis as versioned records
// (with their pending timers, and in group commits), and sends through the
// edges (one publish per message, pkg/edgeapi). So replicas share the load,
// and one may die in the middle of a call: the replica that takes its
// partitions over continues it from Redis. See README.md.
//
// Subjects consumed: sip.<p>.in.> for each partition owned (core NATS, in
// order per partition). Produced: call.started|ringing|answered|ended|
// missed.<p> (schemas/sipbus.call.*.json), the messages to send
// (sip.<p>.out.<edge>...) and its beats (sipbus.beat.tm.<id>).
//
// SIGTERM (TM.Shutdown) hands a replica's partitions over without losing a
// message of a started call: it holds new input, finishes what is in
// flight, writes what it holds only in memory (coalesced changes,
// BYE-like transactions in progress, their deadlines), leaves the group,
// waits for the new owners to say they subscribed, and passes the held
// messages on to them. See README.md, "Graceful shutdown".
//
// tm also sends requests on behalf of applications (the uac command,
// sipbus.tm.uac, the heir of t_uac_dlg; contract in pkg/tmapi): client
// transactions run by the replica that takes the command, dialogs kept in
// Redis so any replica sends the next request in them, requests received
// in those dialogs answered and delivered to their owner
// (app.<owner>.dialog.<id>). See internal/uac.
//
// The proxy logic, with its RFC references, is documented in internal/app;
// the route table format in internal/routes.
package tm
