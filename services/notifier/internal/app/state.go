package app

import "time"

// States of a notification's fence (its idempotency key in Redis).
const (
	// FenceSending: a notifier holds the key, for a lease, while it sends.
	FenceSending = "sending"
	// FenceSent: the mail went out (or the program ran); detail is the
	// Message-ID (or "exit 0").
	FenceSent = "sent"
	// FenceFailed: the notification was given up and dead-lettered;
	// detail is the failure id. `retry` reopens it.
	FenceFailed = "failed"
	// FenceFolded: the rate limit folded the call into its window's
	// digest.
	FenceFolded = "folded"
)

// Claim is what an attempt to take a fence found.
type Claim struct {
	Taken  bool          // the caller holds the key now
	State  string        // what was there: "" (nothing) or a Fence... state
	Detail string        // the holder (sending), Message-ID (sent), failure id (failed)
	TTL    time.Duration // remaining life of what was there (0: none)
}

// Due is a digest to send: the rate-limit window w of a callee ended.
type Due struct {
	Callee string
	Window int64
	At     time.Time // when it is due
}

// Window is the number of the rate-limit window of length d that t falls
// in (windows are aligned on the Unix epoch), and its bounds.
func Window(t time.Time, d time.Duration) (w int64, start, end time.Time) {
	w = t.UnixMilli() / d.Milliseconds()
	start = time.UnixMilli(w * d.Milliseconds()).UTC()
	return w, start, start.Add(d)
}

// WindowBounds are the bounds of window w of length d.
func WindowBounds(w int64, d time.Duration) (start, end time.Time) {
	start = time.UnixMilli(w * d.Milliseconds()).UTC()
	return start, start.Add(d)
}

// SendError is a failed delivery, classified: Temporary failures (SMTP
// 4xx, no connection, a timeout, a reply lost after DATA) are retried
// with backoff; the others (SMTP 5xx, an address the server refuses) are
// dead-lettered at once.
type SendError struct {
	Temporary bool
	Code      int    // SMTP reply code; 0 when there was none
	Text      string // what happened, one line
}

func (e *SendError) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	return "notifier: " + kind + " failure: " + e.Text
}
