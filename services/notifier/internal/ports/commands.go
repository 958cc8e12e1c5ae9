package ports

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/notifyapi"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/notifier/internal/adapters"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// CommandTimeout bounds one command (a retry sends a mail).
const CommandTimeout = 55 * time.Second

// Commands serves the notifier's commands (package notifyapi) as the
// nats.go/micro service notifyapi.ServiceName.
func (h *Handlers) Commands(nc *nats.Conn) (micro.Service, error) {
	cfg := micro.Config{
		Name: notifyapi.ServiceName, Version: "0.1.0", QueueGroup: notifyapi.QueueGroup,
		Description: "sipbus notifier: failed notifications, retry",
		Metadata:    map[string]string{"id": h.ID},
	}
	if h.Inst != nil {
		cfg = h.Inst.Config(cfg)
	}
	svc, err := micro.AddService(nc, cfg)
	if err != nil {
		return nil, err
	}
	eps := []struct {
		name, subject, command string
		h                      micro.HandlerFunc
	}{
		{"failed", notifyapi.SubjectFailed, events.CommandNotifierFailed, endpoint(events.CommandNotifierFailed, h.Failed)},
		{"retry", notifyapi.SubjectRetry, events.CommandNotifierRetry, endpoint(events.CommandNotifierRetry, h.Retry)},
		{"replay", notifyapi.SubjectReplay, events.CommandNotifierReplay, endpoint(events.CommandNotifierReplay, h.Replay)},
	}
	for _, ep := range eps {
		if err := svc.AddEndpoint(ep.name, ep.h, micro.WithEndpointSubject(ep.subject), micro.WithEndpointQueueGroup(notifyapi.QueueGroup),
			mgmt.Schema(events.SchemaURL(ep.command))); err != nil {
			_ = svc.Stop()
			return nil, err
		}
	}
	return svc, nil
}

type replier interface{ status() notifyapi.Reply }

type failedReply struct{ notifyapi.FailedReply }

func (r failedReply) status() notifyapi.Reply { return r.Reply }

type retryReply struct{ notifyapi.RetryReply }

func (r retryReply) status() notifyapi.Reply { return r.Reply }

// endpoint decodes the request, runs fn (in a goroutine of its own: a
// retry waits for a mail server) and responds; a reply whose status is
// not 200 is status and reason only.
func endpoint[Req any, Rep replier](command string, fn func(context.Context, Req) Rep) micro.HandlerFunc {
	return func(r micro.Request) {
		go func() {
			var out any
			var req Req
			if fe := events.DecodeCommand(command, r.Data(), &req); fe != nil {
				out = notifyapi.Reply{Status: 400, Reason: fe.Error(), Field: fe.Field}
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
				rep := fn(ctx, req)
				cancel()
				out = rep
				if st := rep.status(); st.Status != 200 {
					out = st
				}
			}
			b, _ := json.Marshal(out)
			_ = r.Respond(b)
		}()
	}
}

func reply(status int, reason string) notifyapi.Reply {
	return notifyapi.Reply{Status: status, Reason: reason}
}

// Failed lists the failed notifications not sent since, newest first.
func (h *Handlers) Failed(ctx context.Context, req notifyapi.FailedRequest) failedReply {
	limit := req.Limit
	switch {
	case limit < 0 || limit > 1000:
		return failedReply{notifyapi.FailedReply{Reply: reply(400, "limit: want 0 (the default, 100) to 1000")}}
	case limit == 0:
		limit = 100
	}
	all, err := h.Failures.List(ctx)
	if err != nil {
		return failedReply{notifyapi.FailedReply{Reply: reply(503, app.Text(err.Error(), 1000))}}
	}
	var out []events.NotifyFailed
	for _, nf := range slices.Backward(all) {
		c, err := h.State.Peek(ctx, nf.Key)
		if err != nil {
			return failedReply{notifyapi.FailedReply{Reply: reply(503, app.Text(err.Error(), 1000))}}
		}
		if c.State == app.FenceSent {
			continue // retried and sent since
		}
		out = append(out, nf)
		if len(out) == limit {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b events.NotifyFailed) int { return b.FailedAt.Compare(a.FailedAt) })
	return failedReply{notifyapi.FailedReply{Reply: reply(200, "OK"), Failed: out}}
}

var failureID = regexp.MustCompile(`^nf-[0-9a-f]{16}$`)

// Retry sends (or runs) a failed notification again: its fence is
// reopened (it must be failed, or forgotten), the mail recomposed from the
// event kept in the dead letter with the subscriber's current address, and
// sent with the same Message-ID. Failing again dead-letters it again.
func (h *Handlers) Retry(ctx context.Context, req notifyapi.RetryRequest) retryReply {
	out := func(status int, reason string) retryReply {
		return retryReply{notifyapi.RetryReply{Reply: reply(status, reason)}}
	}
	if !failureID.MatchString(req.ID) {
		return out(400, "id: "+app.Text(req.ID, 80)+" is not a failure id (nf- and 16 hex digits, as `sipbus notifier failed` lists them)")
	}
	nf, err := h.Failures.Last(ctx, req.ID)
	switch {
	case errors.Is(err, adapters.ErrNoFailure):
		return out(404, "id: no failure "+req.ID+" (or the stream no longer keeps it)")
	case err != nil:
		return out(503, app.Text(err.Error(), 1000))
	}
	owner := h.owner()
	c, err := h.State.Reopen(ctx, nf.Key, owner, h.Lease)
	if err != nil {
		return out(503, app.Text(err.Error(), 1000))
	}
	if !c.Taken {
		switch c.State {
		case app.FenceSent:
			return out(409, "already sent since ("+app.Text(c.Detail, 200)+")")
		case app.FenceSending:
			return out(409, "being sent by "+app.Text(c.Detail, 100)+" now")
		}
		return out(409, "nothing to retry: "+c.State)
	}
	next := *nf
	next.Attempts++
	var mail *app.Mail
	switch nf.Kind {
	case events.NotifyMail:
		mail, err = h.retryMail(ctx, nf)
	case events.NotifyDigest:
		mail, err = h.retryDigest(ctx, nf)
	case events.NotifyExec:
		return h.retryExec(ctx, owner, &next)
	default:
		err = errors.New("unknown kind " + nf.Kind)
	}
	if err != nil {
		h.restore(ctx, nf, owner)
		var cant errCannot
		if errors.As(err, &cant) {
			return out(409, cant.Error())
		}
		return out(503, app.Text(err.Error(), 1000))
	}
	err = h.sendMail(ctx, nf.Key, owner, mail)
	if err == nil {
		return retryReply{notifyapi.RetryReply{Reply: reply(200, "OK: sent"), MessageID: mail.MessageID}}
	}
	se := err.(*app.SendError)
	next.Permanent, next.Code, next.Error, next.To, next.MessageID = !se.Temporary, se.Code, se.Text, mail.To.Addr, mail.MessageID
	if derr := h.deadLetter(ctx, owner, &next); derr != nil {
		return out(503, app.Text(derr.Error(), 1000))
	}
	return out(502, "failed again: "+app.Text(se.Text, 1500))
}

// errCannot: the notification cannot be retried as it stands (the callee
// has no address any more, the rule is gone).
type errCannot struct{ why string }

func (e errCannot) Error() string { return e.why }

// restore puts the fence back to failed after a retry that did not send.
func (h *Handlers) restore(ctx context.Context, nf *events.NotifyFailed, owner string) {
	h.complete(ctx, nf.Key, owner, app.FenceFailed, nf.ID)
}

func (h *Handlers) retryMail(ctx context.Context, nf *events.NotifyFailed) (*app.Mail, error) {
	if nf.Event == nil {
		return nil, errCannot{"the dead letter holds no event"}
	}
	var m events.CallMissed
	if err := json.Unmarshal(nf.Event.Data, &m); err != nil {
		return nil, errCannot{"the event in the dead letter is not a call.missed: " + err.Error()}
	}
	aor, ok := app.CalleeAOR(&m)
	if !ok {
		return nil, errCannot{"the call has no callee address"}
	}
	sub, err := h.Directory.Get(ctx, aor)
	if errors.Is(err, subscriber.ErrNotFound) {
		return nil, errCannot{"callee " + aor + " is no subscriber any more"}
	}
	if err != nil {
		return nil, err
	}
	if v := app.Decide(sub, true); !v.Mail {
		return nil, errCannot{"callee " + aor + ": " + v.Why}
	}
	return h.Templates.Missed(nf.Event.ID, &m, sub, h.Options)
}

func (h *Handlers) retryDigest(ctx context.Context, nf *events.NotifyFailed) (*app.Mail, error) {
	if nf.Window == nil {
		return nil, errCannot{"the dead letter holds no window"}
	}
	w, _, _ := app.Window(nf.Window.Start, h.RateWindow)
	mail, _, err := h.composeDigest(ctx, app.Due{Callee: nf.AOR, Window: w})
	if errors.Is(err, errNothingToSend) {
		return nil, errCannot{"the digest has nothing to send any more (its calls are no longer kept, or the callee opted out)"}
	}
	return mail, err
}

func (h *Handlers) retryExec(ctx context.Context, owner string, nf *events.NotifyFailed) retryReply {
	out := func(status int, reason string) retryReply {
		return retryReply{notifyapi.RetryReply{Reply: reply(status, reason)}}
	}
	i := slices.IndexFunc(h.Rules, func(r Rule) bool { return r.Name == nf.Rule })
	if i < 0 || nf.Event == nil {
		h.restore(ctx, nf, owner)
		return out(409, "exec rule "+app.Text(nf.Rule, 64)+" is not configured on this notifier")
	}
	ev := &bus.Event{ID: nf.Event.ID, Type: nf.Event.Type, Source: nf.Event.Source, Subject: nf.Event.Subject,
		Time: nf.Event.Time, Data: nf.Event.Data}
	failed, err := h.runRule(ctx, h.Rules[i], ev, nf.Attempts)
	switch {
	case err != nil:
		h.restore(ctx, nf, owner)
		return out(503, app.Text(err.Error(), 1000))
	case failed == nil:
		h.complete(ctx, nf.Key, owner, app.FenceSent, "exit 0")
		return out(200, "OK: ran")
	}
	if derr := h.deadLetter(ctx, owner, failed); derr != nil {
		return out(503, app.Text(derr.Error(), 1000))
	}
	return out(502, "failed again: "+app.Text(failed.Error, 1500))
}
