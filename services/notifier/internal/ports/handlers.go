// Package ports connects the notifier to the bus: the handler of
// call.missed (OnCallMissed), the digest loop, the exec rules' handlers
// and the failed/retry commands, on the interfaces below.
package ports

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/notifier/internal/adapters"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// Fence is the exactly-once fence of notifications (adapters.Redis,
// adapters.Memory).
type Fence interface {
	Acquire(ctx context.Context, key, owner string, lease time.Duration) (app.Claim, error)
	Reopen(ctx context.Context, key, owner string, lease time.Duration) (app.Claim, error)
	Complete(ctx context.Context, key, owner, state, detail string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, key, owner string) (bool, error)
	Peek(ctx context.Context, key string) (app.Claim, error)
}

// Limiter is the per-callee rate limit and the schedule of its digests.
type Limiter interface {
	Admit(ctx context.Context, callee string, w int64, key string, summary []byte, ttl time.Duration) (int, error)
	Folded(ctx context.Context, callee string, w int64, from, max int) ([][]byte, int, error)
	ScheduleDigest(ctx context.Context, callee string, w int64, due time.Time) error
	RescheduleDigest(ctx context.Context, d app.Due, at time.Time) error
	DueDigests(ctx context.Context, now time.Time, max int) ([]app.Due, error)
	DigestDone(ctx context.Context, d app.Due) error
}

// State is both, as one engine provides them.
type State interface {
	Fence
	Limiter
}

var (
	_ State = (*adapters.Redis)(nil)
	_ State = (*adapters.Memory)(nil)
)

// Sender sends one mail; a failure is an *app.SendError.
type Sender interface {
	Send(ctx context.Context, m *app.Mail) error
}

var _ Sender = (*adapters.SMTP)(nil)

// Runner runs one program.
type Runner interface {
	Run(ctx context.Context, r adapters.Run) adapters.RunResult
}

var _ Runner = adapters.Exec{}

// FailureLog is the dead-letter list.
type FailureLog interface {
	Publish(ctx context.Context, nf *events.NotifyFailed) error
	Last(ctx context.Context, id string) (*events.NotifyFailed, error)
	List(ctx context.Context) ([]events.NotifyFailed, error)
}

var _ FailureLog = (*adapters.Failures)(nil)

// Handlers are the notifier's decisions wired to its state, mail server,
// programs and dead letters.
type Handlers struct {
	ID        string // instance id: the first part of every fence owner
	Directory subscriber.Directory
	State     State
	Sender    Sender // nil: no mail server (exec rules only)
	Runner    Runner
	Failures  FailureLog
	Templates *app.Templates
	Options   app.Options
	Log       *slog.Logger
	Now       func() time.Time

	RateLimit  int
	RateWindow time.Duration
	Backoff    []time.Duration
	MaxDeliver int
	Lease      time.Duration
	FenceTTL   time.Duration
	Rules      []Rule // exec rules, for retry

	Counters Counters
	// Inst is the instance management sees (sipbus ps); nil in tests.
	Inst *mgmt.Instance
}

// Track is middleware counting the events being handled as the
// instance's in-flight work.
func (h *Handlers) Track(next bus.Handler) bus.Handler {
	return func(ctx context.Context, ev *bus.Event) error {
		if h.Inst != nil {
			defer h.Inst.Begin()()
		}
		return next(ctx, ev)
	}
}

// Counters count what the notifier did.
type Counters struct {
	Sent, Duplicates, Folded, Digests, Skipped, Temporary, DeadLettered, Ran, ExecFailed atomic.Uint64
}

// errBusy: another notifier holds the fence; the event comes back after
// the backoff.
var errBusy = errors.New("notifier: another notifier is sending it")

// owner is a fresh fence owner: this instance and a random part, so two
// attempts of one instance never mistake each other.
func (h *Handlers) owner() string { return h.ID + "/" + rand.Text()[:10] }

// held says what to do with an event whose fence someone else holds or
// completed: nil (acknowledge) when the notification is done, errBusy
// while another notifier sends it.
func (h *Handlers) held(c app.Claim, key string) error {
	if c.State == app.FenceSending {
		h.Log.Debug("notifier: held by another notifier", "key", app.LogText(key, 256), "holder", app.LogText(c.Detail, 128), "ttl", c.TTL)
		return fmt.Errorf("%w (%s, %v left of its lease)", errBusy, app.LogText(c.Detail, 128), c.TTL.Round(time.Millisecond))
	}
	h.Counters.Duplicates.Add(1)
	h.Log.Debug("notifier: already done", "key", app.LogText(key, 256), "state", c.State, "detail", app.LogText(c.Detail, 256))
	return nil
}

// complete records the outcome of a notification, retrying a few times
// within a few seconds when Redis hiccups: a mail that went out must not
// stay "sending" for its whole lease (then be sent again).
func (h *Handlers) complete(ctx context.Context, key, owner, state, detail string) {
	ctx = context.WithoutCancel(ctx)
	for i := range 5 {
		ok, err := h.State.Complete(ctx, key, owner, state, detail, h.FenceTTL)
		switch {
		case err == nil && ok:
			return
		case err == nil:
			h.Log.Warn("notifier: the fence was lost while sending (the lease ended first): another notifier may send it again, with the same Message-ID",
				"key", app.LogText(key, 256), "lease", h.Lease)
			return
		}
		h.Log.Warn("notifier: record the outcome", "key", app.LogText(key, 256), "state", state, "err", err)
		time.Sleep(time.Duration(i+1) * 200 * time.Millisecond)
	}
	h.Log.Error("notifier: could not record the outcome: the notification stays held until its lease ends, then may be sent again (same Message-ID)",
		"key", app.LogText(key, 256), "state", state)
}

// release gives a fence up after a temporary failure, so the next
// delivery takes it at once.
func (h *Handlers) release(ctx context.Context, key, owner string) {
	if _, err := h.State.Release(context.WithoutCancel(ctx), key, owner); err != nil {
		h.Log.Warn("notifier: release the fence (the next attempt waits for its lease)", "key", app.LogText(key, 256), "err", err)
	}
}

// sendMail sends m under the fence key (held by owner) and records the
// outcome. It returns nil when the mail went, or an *app.SendError.
func (h *Handlers) sendMail(ctx context.Context, key, owner string, m *app.Mail) error {
	if h.Sender == nil {
		return &app.SendError{Text: "no mail server configured (smtp: none)"}
	}
	err := h.Sender.Send(ctx, m)
	if err == nil {
		h.complete(ctx, key, owner, app.FenceSent, m.MessageID)
		h.Counters.Sent.Add(1)
		h.Log.Info("notifier: mail sent", "key", app.LogText(key, 256), "message_id", app.LogText(m.MessageID, 256), "to", app.LogText(m.To.Addr, 254))
		return nil
	}
	var se *app.SendError
	if !errors.As(err, &se) {
		se = &app.SendError{Temporary: true, Text: app.Text(err.Error(), 1000)}
	}
	return se
}

// deadLetter publishes nf and marks the notification failed; nil means
// the event may be acknowledged. When the dead letter cannot be stored the
// fence is released and the error returned: the event comes back.
func (h *Handlers) deadLetter(ctx context.Context, owner string, nf *events.NotifyFailed) error {
	nf.Error = app.Text(nf.Error, 2048)
	nf.FailedAt = h.Now().UTC()
	if err := h.Failures.Publish(context.WithoutCancel(ctx), nf); err != nil {
		h.release(ctx, nf.Key, owner)
		return fmt.Errorf("notifier: store the dead letter of %s: %w", nf.ID, err)
	}
	h.complete(ctx, nf.Key, owner, app.FenceFailed, nf.ID)
	h.Counters.DeadLettered.Add(1)
	h.Log.Error("notifier: gave up (see `sipbus notifier failed`; `sipbus notifier retry "+nf.ID+"` tries again)",
		"id", nf.ID, "kind", nf.Kind, "key", app.LogText(nf.Key, 256), "permanent", nf.Permanent, "code", nf.Code,
		"attempts", nf.Attempts, "error", app.LogText(nf.Error, 1024))
	return nil
}

// backoffTotal is how long MaxDeliver attempts with Backoff take: the
// retry horizon of a digest (which has no delivery count).
func (h *Handlers) backoffTotal() time.Duration {
	var d time.Duration
	for i := range h.MaxDeliver - 1 {
		d += h.Backoff[min(i, len(h.Backoff)-1)]
	}
	return d
}
