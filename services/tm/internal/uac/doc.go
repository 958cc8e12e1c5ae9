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
//   - runner.go: the shell running one uac on the replica that took the
//     command. It subscribes (core NATS) to the responses of the call
//     (sip.<p>.in.res.*.<callkey>) for the life of its client
//     transactions, runs each branch on the pure machines of pkg/sipfsm
//     (Timers A/B/D/E/F/K/M in memory), sends through the edges (the
//     edgeapi out-path) and resolves next hops with tm's resolver.
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
//   - tm answers requests received in a uac dialog itself (200; BYE ends
//     the dialog; a re-INVITE gets 488, tm has no media) and tells the
//     owner; see app.UACDialogs.
package uac
