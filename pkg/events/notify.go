package events

import (
	"encoding/json"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// The notifier's dead letter (subject notify.failed.<id>, CloudEvent
// subject = the failure id) and its commands (NATS request/reply on
// sipbus.notifier.*, queue group sipbus-notifier; not stream events).
const (
	TypeNotifyFailed      = "sipbus.notify.failed.v1"
	CommandNotifierFailed = "sipbus.notifier.failed.v1"
	CommandNotifierRetry  = "sipbus.notifier.retry.v1"
	CommandNotifierReplay = "sipbus.notifier.replay.v1"
)

// Kinds of notification (NotifyFailed.Kind).
const (
	NotifyMail   = "mail"   // the mail about one missed call
	NotifyDigest = "digest" // the "and N more missed calls" mail closing a rate-limit window
	NotifyExec   = "exec"   // a program an exec rule ran on an event
)

// NotifyFailed is TypeNotifyFailed: a notification the notifier gave up on.
// A mail the SMTP server refused for good (5xx), a mail whose temporary
// failures outlasted every retry, a program that exited non-zero or was
// killed at its timeout. `sipbus notifier failed` lists them and `sipbus
// notifier retry ID` sends (or runs) them again.
type NotifyFailed struct {
	// ID names the notification, not the failure: every failure of one
	// notification carries the same ID (the CloudEvent id adds the
	// attempt), and it is what `retry` takes.
	ID   string `json:"id"`
	Kind string `json:"kind"` // NotifyMail, NotifyDigest, NotifyExec
	// Key is the notification's idempotency key (the notifier's fence).
	Key string `json:"key"`
	// Permanent is true when the server refused for good (SMTP 5xx, a
	// program's failure); false when temporary failures (4xx, no
	// connection) outlasted the retries.
	Permanent bool `json:"permanent"`
	// Code is the SMTP reply code (0: none, such as a refused connection);
	// for exec, the exit status, -1 when the program was killed.
	Code int `json:"code,omitempty"`
	// Error says what failed, as text: control characters replaced, at
	// most 2048 bytes.
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"` // deliveries of the event, or retries, so far
	FailedAt time.Time `json:"failed_at"`

	MessageID string `json:"message_id,omitempty"` // mail, digest: the Message-ID, without <>
	To        string `json:"to,omitempty"`         // mail, digest: the recipient's address
	AOR       string `json:"aor,omitempty"`        // mail, digest: the callee's address of record
	Rule      string `json:"rule,omitempty"`       // exec: the rule's name

	Window *NotifyWindow `json:"window,omitempty"` // digest: the rate-limit window it closes
	Event  *NotifyEvent  `json:"event,omitempty"`  // mail, exec: the event notified about
}

// NotifyWindow is a callee's rate-limit window.
type NotifyWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// NotifyEvent is the CloudEvent a notification was about, kept in the dead
// letter so that `retry` needs nothing else.
type NotifyEvent struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Subject string          `json:"subject,omitempty"`
	Time    time.Time       `json:"time,omitzero"`
	Data    json.RawMessage `json:"data"`
}

// NotifierFailed is the request of CommandNotifierFailed: the failed
// notifications, newest first, at most Limit (0: the default, 100).
type NotifierFailed struct {
	Limit int `json:"limit,omitempty"`
}

// NotifierRetry is the request of CommandNotifierRetry: send (or run) the
// failed notification ID again.
type NotifierRetry struct {
	ID string `json:"id"`
}

// NotifierReplay is the request of CommandNotifierReplay: run these
// events (CloudEvents in the structured JSON form, as `sipbus replay
// --json` prints them) through the notifier's handlers with every side
// effect fenced, and report what it would have done. DryRun must be true:
// a replay never sends a mail or runs a program.
type NotifierReplay struct {
	DryRun bool              `json:"dry_run"`
	Events []json.RawMessage `json:"events"`
}

// NotifierReplayAction is one thing the notifier would have done.
type NotifierReplayAction struct {
	EventID   string   `json:"event_id"`
	EventType string   `json:"event_type"`
	Kind      string   `json:"kind"` // NotifyMail, NotifyExec, "none" (nothing to do, Detail says why), "error"
	To        string   `json:"to,omitempty"`
	Subject   string   `json:"subject,omitempty"`
	MessageID string   `json:"message_id,omitempty"`
	Rule      string   `json:"rule,omitempty"`
	Argv      []string `json:"argv,omitempty"`
	Detail    string   `json:"detail,omitempty"`
}

func (*NotifierReplay) CEType() string   { return CommandNotifierReplay }
func (*NotifierReplay) CESchema() string { return SchemaURL(CommandNotifierReplay) }

func (*NotifyFailed) CEType() string     { return TypeNotifyFailed }
func (*NotifyFailed) CESchema() string   { return SchemaURL(TypeNotifyFailed) }
func (*NotifierFailed) CEType() string   { return CommandNotifierFailed }
func (*NotifierFailed) CESchema() string { return SchemaURL(CommandNotifierFailed) }
func (*NotifierRetry) CEType() string    { return CommandNotifierRetry }
func (*NotifierRetry) CESchema() string  { return SchemaURL(CommandNotifierRetry) }

var (
	_ bus.Typed = (*NotifyFailed)(nil)
	_ bus.Typed = (*NotifierFailed)(nil)
	_ bus.Typed = (*NotifierRetry)(nil)
	_ bus.Typed = (*NotifierReplay)(nil)
)
