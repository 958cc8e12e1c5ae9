// Package notifier is the sipbus service that tells people about their
// calls: the missed-call e-mail (the best-known application of the seeds,
// which ran a shell script from exec in a failure_route) and exec rules
// that run a program on events.
//
// # Missed-call mail
//
// The notifier consumes call.missed.* (sipbus.call.missed.v1, one per
// call: tm emits it once for the call's INVITE transaction, whatever its
// branches) on the durable consumer notifier-missed-call-mail, which every
// replica shares. For each event:
//
//  1. The callee is the Request-URI's user@domain (what tm routed on),
//     else the To URI's. The subscriber directory (pkg/subscriber) says
//     whether to mail: an e-mail address, enabled, not opted out
//     (`sipbus user set AOR --missed-call-email off`). Otherwise the event
//     is acknowledged and nothing is sent.
//  2. The fence: the key mail.<event id> is taken in Redis with SET NX and
//     a lease ("sending <owner>", PX Lease) before anything is sent. A key
//     found completed (sent, folded, failed) acknowledges the event: a
//     redelivery, a replay, a second replica or a second producer of the
//     same event id sends nothing. A key held by another notifier naks
//     the event (it comes back after the backoff).
//  3. The rate limit: the key joins the callee's window (RateLimit mails
//     per RateWindow, windows aligned on the clock). Past the limit the
//     call is folded: the fence is completed "folded", and when the window
//     ends one "And N more missed calls" mail lists them (the digest, its
//     own fence digest.<aorkey>.<window>; every replica polls the due
//     digests, the fence makes one send each).
//  4. The mail: text and HTML parts from templates (embedded, overridable
//     by files), the caller's name and URI, the callee, the time in the
//     callee's zone (`--tz`), the reason in words, a call-back sip: link
//     and a link to Config.WebURL when set; Message-ID <key@domain>,
//     derived from the event id and the same on every attempt; the key and
//     the event id in X-Sipbus-Key and X-Sipbus-Event. Sent through
//     github.com/wneessen/go-mail: STARTTLS required (smtp://) or TLS
//     (smtps://), AUTH when a user is given.
//  5. Sent: the fence is completed "sent <Message-ID>" (kept FenceTTL, 7
//     days) and the event acknowledged. A temporary failure (SMTP 4xx, no
//     connection, a timeout) releases the fence and naks the event: it
//     comes back after Backoff, until MaxDeliver. A permanent failure (5xx)
//     or the last delivery dead-letters it.
//
// # Exactly once, and the window that remains
//
// An SMTP server cannot take part in a transaction with Redis and the
// stream, so "exactly once" has one window, and it is this one: between
// the moment the server has accepted the message (its 250 reply to the
// DATA's final dot) and the moment the fence is completed "sent" (one
// Redis round trip later, retried for a few seconds if Redis hiccups).
// When the notifier dies in that window (SIGKILL, the host lost), or loses
// the connection before it reads the 250, or cannot write the fence
// within its lease, the fence stays "sending" until its lease ends
// (Lease, default 2 minutes); the event, never acknowledged, comes back
// (AckWait, then the backoff) to any replica, which waits for the lease
// and sends the mail again, with the same Message-ID. The callee then has
// two copies of one mail with one Message-ID, which a mail store or
// client can recognise as the same mail. Dying after the fence is completed and before
// the acknowledgement costs nothing: the redelivered event finds "sent".
// Nothing else sends twice: not a redelivery, not a replica, not a fork,
// not a replay within FenceTTL. And nothing is lost: the event is
// acknowledged only once its mail is sent, folded, or dead-lettered.
//
// # Dead letters
//
// A notification given up (a 5xx, temporary failures past MaxDeliver, a
// program that failed) is published as sipbus.notify.failed.v1 on
// notify.failed.<id> (waiting for the stream's acknowledgement) and its
// fence completed "failed <id>". `sipbus notifier failed` lists the
// latest failure of each notification not sent since, from the stream (so
// for as long as the stream keeps events: --retention); `sipbus notifier
// retry ID` reopens the fence, composes the mail again from the event kept
// in the dead letter with the subscriber's current address, and sends it
// with the same Message-ID (or runs the program again). Both are NATS
// commands (package notifyapi) any replica answers.
//
// # Hostile input
//
// Display names and URIs come from the network. Everything shown of them
// goes through app.Text first: one line (control characters, CR and LF
// included, and the bidirectional overrides become spaces), valid UTF-8,
// cut (120 characters for a name). A subject is one line again after its
// template ran, and goes out as RFC 2047 encoded words whenever it is not
// plain ASCII or holds "=?" (so an encoded word in a name reaches the
// reader as text). There is one recipient, the directory's address, given
// to go-mail as a parsed address; no header is built by concatenation.
// The HTML part is html/template (contextual escaping); the call-back link
// is rebuilt from the parsed URI (scheme, user, host, port; no
// parameters, no headers), percent-encoded, and absent when nothing safe
// remains. Tests read the raw messages back from Mailpit.
//
// # Exec rules
//
// Each rule (Config.Exec) has its own durable consumer,
// notifier-exec-<name>, over the subjects of its event types (call,
// reg.contact and notify events; SIP message events cannot run programs).
// The program runs once per event (fence exec.<rule>.<event id>), with
// os/exec and never a shell: argv as configured, the event as CloudEvents
// JSON on stdin, and an environment made only of PATH, LANG, the rule's
// variables and the event's SIP_* variables (app.ExecEnv: the seed's
// SIP_HF_FROM, SIP_HF_TO, SIP_HF_CALLID, SIP_RURI, SIP_USER, and every
// field of the event); the notifier's own environment, which may hold
// SIPBUS_NOTIFIER_SMTP's password, is not passed on. The program runs in a
// process group of its own, killed whole at its timeout (and after it
// exits). Its exit status, run time and output (64 kB kept, 2 kB logged,
// escaped) are logged; a failure is dead-lettered (no automatic retry: a
// program may have done half its work). At most Concurrency runs per rule
// and replica. A rule never runs on the dead letter of a program
// (sipbus.notify.failed.v1 of kind exec): a failing program would feed
// itself. examples/missed-call holds the seed's script, redone.
//
// # State
//
// Fences, rate-limit windows and the digest schedule live in Redis
// (adapters.Redis: key layout in its doc), beside the subscriber
// directory; `sipbus up` without Redis keeps them in memory
// (adapters.Memory), which only one notifier can share. Both engines pass
// one conformance suite (internal/adapters/statetest).
package notifier
