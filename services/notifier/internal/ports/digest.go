package ports

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// RunDigests sends the digests of the rate-limit windows that ended, every
// poll, until ctx ends. Every replica runs it; the fence of each digest
// (digest.<callee>.<window>) makes one of them send it.
func (h *Handlers) RunDigests(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due, err := h.State.DueDigests(ctx, h.Now(), 16)
		if err != nil {
			if ctx.Err() == nil {
				h.Log.Warn("notifier: digests due", "err", err)
			}
			continue
		}
		for _, d := range due {
			if ctx.Err() != nil {
				return
			}
			h.digest(ctx, d)
		}
	}
}

// digest sends one digest (or finds it done).
func (h *Handlers) digest(ctx context.Context, d app.Due) {
	key := app.DigestKey(d.Callee, d.Window)
	owner := h.owner()
	c, err := h.State.Acquire(ctx, key, owner, h.Lease)
	if err != nil {
		h.Log.Warn("notifier: digest fence", "key", app.LogText(key, 256), "err", err)
		return
	}
	if !c.Taken {
		if c.State != app.FenceSending {
			h.digestDone(ctx, d)
		}
		return
	}
	mail, nf, err := h.composeDigest(ctx, d)
	switch {
	case errors.Is(err, errNothingToSend):
		h.complete(ctx, key, owner, app.FenceSent, "")
		h.digestDone(ctx, d)
		return
	case err != nil && nf == nil: // the directory or the state cannot answer: later
		h.release(ctx, key, owner)
		h.reschedule(ctx, d, h.Backoff[0])
		h.Log.Warn("notifier: digest", "key", app.LogText(key, 256), "err", err)
		return
	case err != nil:
		nf.Permanent, nf.Error = true, err.Error()
		if h.deadLetter(ctx, owner, nf) == nil {
			h.digestDone(ctx, d)
		}
		return
	}
	err = h.sendMail(ctx, key, owner, mail)
	if err == nil {
		h.Counters.Digests.Add(1)
		h.digestDone(ctx, d)
		return
	}
	se := err.(*app.SendError)
	_, end := app.WindowBounds(d.Window, h.RateWindow)
	late := h.Now().Sub(end.Add(digestGrace)) // since it was first due
	if se.Temporary && late < h.backoffTotal() {
		h.release(ctx, key, owner)
		h.Counters.Temporary.Add(1)
		wait := h.Backoff[min(int(late/h.Backoff[len(h.Backoff)-1]), len(h.Backoff)-1)]
		h.reschedule(ctx, d, wait)
		h.Log.Warn("notifier: digest not sent, will retry", "key", app.LogText(key, 256), "in", wait, "code", se.Code, "error", app.LogText(se.Text, 1024))
		return
	}
	nf.Permanent, nf.Code, nf.Error = !se.Temporary, se.Code, se.Text
	nf.Attempts = max(1, int(late/h.Backoff[len(h.Backoff)-1])+1)
	if h.deadLetter(ctx, owner, nf) == nil {
		h.digestDone(ctx, d)
	}
}

var errNothingToSend = errors.New("notifier: nothing to send")

// composeDigest builds the digest of d. An error with a nil failure is
// temporary; with one, the digest cannot be made (a broken template).
func (h *Handlers) composeDigest(ctx context.Context, d app.Due) (*app.Mail, *events.NotifyFailed, error) {
	sub, err := h.Directory.Get(ctx, d.Callee)
	if errors.Is(err, subscriber.ErrNotFound) {
		return nil, nil, errNothingToSend // removed since: nobody to tell
	}
	if err != nil {
		return nil, nil, err
	}
	if !app.Decide(sub, true).Mail {
		return nil, nil, errNothingToSend // opted out or lost the address since
	}
	sums, total, err := h.State.Folded(ctx, d.Callee, d.Window, h.RateLimit, app.MaxDigestCalls)
	if err != nil {
		return nil, nil, err
	}
	count := total - h.RateLimit
	if count <= 0 {
		return nil, nil, errNothingToSend
	}
	calls := make([]app.Folded, 0, len(sums))
	for _, s := range sums {
		var f app.Folded
		if json.Unmarshal(s, &f) == nil {
			calls = append(calls, f)
		}
	}
	start, end := app.WindowBounds(d.Window, h.RateWindow)
	key := app.DigestKey(d.Callee, d.Window)
	nf := &events.NotifyFailed{ID: app.FailureID(key), Kind: events.NotifyDigest, Key: key, Attempts: 1,
		To: sub.Email, AOR: d.Callee, Window: &events.NotifyWindow{Start: start, End: end}}
	mail, err := h.Templates.Digest(sub, d.Window, start, end, count, calls, h.Options)
	if err != nil {
		return nil, nf, err
	}
	nf.MessageID = mail.MessageID
	return mail, nf, nil
}

func (h *Handlers) digestDone(ctx context.Context, d app.Due) {
	if err := h.State.DigestDone(context.WithoutCancel(ctx), d); err != nil {
		h.Log.Warn("notifier: digest done", "callee", app.LogText(d.Callee, 256), "err", err)
	}
}

func (h *Handlers) reschedule(ctx context.Context, d app.Due, wait time.Duration) {
	if err := h.State.RescheduleDigest(context.WithoutCancel(ctx), d, h.Now().Add(wait)); err != nil {
		h.Log.Warn("notifier: reschedule digest", "callee", app.LogText(d.Callee, 256), "err", err)
	}
}
