// Package adapters connects the notifier to the outside: the mail server
// (SMTP, with github.com/wneessen/go-mail), the state in Redis or in
// memory (Redis, Memory: fences, rate-limit windows, the digest schedule;
// one conformance suite, statetest), programs (Exec: os/exec in a process
// group of their own, never a shell) and the dead-letter list in the
// event stream (Failures).
package adapters
