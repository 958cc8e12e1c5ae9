// Package app holds the notifier's decisions, free of NATS, Redis and
// SMTP: who gets a mail (Decide, CalleeAOR), what it says (Templates:
// Missed, Digest; ReasonWords), its idempotency key and Message-ID
// (MailKey, DigestKey, ExecKey, MessageID, FailureID), how text from the
// network is made safe to show (Text, EncodeHeader, CallbackURI, LogText),
// the rate-limit windows (Window), and what a program run by an exec rule
// gets (ExecFilters, MatchType, ExecEnv, EventJSON).
package app
