// Package tm is the sipbus transaction manager, the heir of SER's tm module:
// the route table, stateful relay (t_relay), timers (fr_timer /
// fr_inv_timer), CANCEL and ACK handling, parallel and serial forking,
// failure handling (failure_route) and call lifecycle events.
//
// tm keeps no state in its process. It consumes the edges' SIP events on the
// durable consumer "tm" (every replica shares it), keeps each proxy
// transaction as a versioned record in the store, arms SIP timers as
// deadlines in the store that any live replica claims, and sends through the
// edges' send command. So two replicas can share the load, and one may die
// in the middle of a call: the other continues it.
//
// Subjects consumed: sip.in.req.>, sip.in.res.> (JetStream, ordered per
// call within a process). Produced: call.started|ringing|answered|ended|
// missed.<callkey> (schemas/sipbus.call.*.json) and edge send commands.
//
// The proxy logic, with its RFC references, is documented in internal/app;
// the route table format in internal/routes.
package tm
