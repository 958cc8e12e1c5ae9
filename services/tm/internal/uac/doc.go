// Package uac is tm's uac command (schemas/sipbus.tm.uac.v1.json,
// pkg/tmapi), the heir of SER's t_uac_dlg: requests sent on behalf of
// applications.
//
// Pieces:
//   - build.go (pure): validation of the command, naming the field at
//     fault, and the request on the wire (Via, From/To with tags, CSeq,
//     Route set, Contact, the credentials of a 401/407);
//   - decide.go (pure, table-tested): what a uac does with a response of
//     one of its branches (stream it, retry with credentials, pick the
//     winner, CANCEL the other branches, ACK and BYE a late 2xx, end);
//   - dialog.go: the dialog record in the store (rec:{<callkey>}:uacdlg:<id>),
//     read and written with compare-and-set, so another replica sends the
//     next request in the dialog (its CSeq is taken atomically);
//   - the shell running one uac on the replica that took the command:
//     runner.go (the Runner, one goroutine and input loop per uac; it
//     subscribes, core NATS, to the responses of the call's partition,
//     sip.<p>.in.res.*, and keeps its call's, for the life of its client
//     transactions), prepare.go (the request of each branch: defaults,
//     the dialog, forking to an AOR's contacts, next hops resolved with
//     tm's resolver), tx.go (each client transaction on the pure machines
//     of pkg/sipfsm: Timers A/B/D/E/F/K/M in memory; sends through the
//     edges, the edgeapi out-path) and outcome.go (what the decisions
//     mean on the wire: the final streamed, the dialog stored, ACK,
//     CANCEL, ACK+BYE of a late 2xx, the retry with credentials).
//
// Decisions where the issue is silent:
//   - A uac's client transactions live in the memory of the replica that
//     runs the command (the command's reply subject is there too); if that
//     replica dies, the application gets no final (tmapi.ErrNoFinal) and
//     sends again. What must survive a replica — the dialog — is in the
//     store.
//   - Branches use the prefix z9hG4bKuac in Via: tm's proxy core
//     (z9hG4bKsb) never mistakes their responses for its own.
//   - A Request-URI in one of tm's domains, out of dialog and without a
//     next hop, is an address of record: the request is forked in parallel
//     to its registered contacts (their Path as Route, their NAT received
//     address as destination), first 2xx wins, the other branches are
//     CANCELled; a 2xx arriving later on another branch is ACKed and BYEd
//     (RFC 3261 §13.2.2.4). No serial forking by q, no DNS failover: the
//     first target of a name is used.
//   - One 401/407 per branch is answered, when the command has credentials
//     and the challenge's realm matches the given realm (if any).
//   - Messages are built and read with pkg/sipmsg, as everywhere in tm
//     (one parse per message, the edge's index), not with sipgo's types:
//     what sipgo would bring here (its dialog client) keeps state in the
//     process, and the dialog must be in Redis for another replica.
//   - A NOTIFY that arrives before the 2xx of an out-of-dialog SUBSCRIBE
//     or REFER finds no dialog yet and gets 404 (a REFER sent inside an
//     INVITE dialog, as click-to-dial does, has its dialog already).
//   - tm answers requests received in a uac dialog itself (200; BYE ends
//     the dialog; a re-INVITE gets 488, tm has no media) and tells the
//     owner; see app.UACDialogs.
package uac
