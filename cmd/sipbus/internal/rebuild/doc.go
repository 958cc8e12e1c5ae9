// Package rebuild restores state from the event log: `sipbus rebuild
// location` rebuilds the location service (the registrar's bindings) from
// the reg.contact.* events after Redis lost them (a FLUSHALL, a new
// server without its data).
//
// Fold replays the events in stream order per binding (AOR and Contact
// URI, as the registrar names a binding in its events): added and
// refreshed set it, removed and expired delete it. What is left and still
// live at now (a permanent binding, or one whose expiry is after now) is
// written back with location.Store.Add, with its q, expiry, Call-ID,
// CSeq, Path, User-Agent and edge; Received comes back from the event's
// source URI (sip:ip:port;transport=t -> t:ip:port), so a phone behind a
// NAT is reached at its public address again.
//
// Decisions where the issue is silent:
//   - The store wins: a binding already in the store (the phone
//     re-registered after the loss) is left as it is; the log only fills
//     what is missing. Rebuild can therefore run while the registrar serves.
//   - A binding registered over a connection (TCP, TLS, WS) comes back
//     without its flow (events carry no flow id): the first call goes to
//     its Contact and Received address, and the phone's next REGISTER
//     (RFC 5626 keepalives make that soon) restores the flow.
//   - The window is the stream's retention (24 h by default) or --since:
//     a binding registered before it and never refreshed since is not in
//     the log, so cannot come back (a registration lasting longer than the
//     retention refreshes within it in practice; a permanent binding added
//     with `ul add` before the window is lost: provision those again).
//   - No events are published for the restored bindings: they are not
//     changes, and a subscriber that missed nothing would see doubles.
package rebuild
