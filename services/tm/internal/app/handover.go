package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
)

// Apps hands transactions to applications (the SEAS idea, on the bus).
type Apps interface {
	// HandOver publishes the request event for application app.
	HandOver(ctx context.Context, app string, in *Inbound) error
}

// handOver gives the transaction to an application: tm keeps the proxy
// transaction (so the application's reply or relay command, on any
// replica, finds the request and where it came from) and publishes the
// request on app.<name>.<p>.
func (e *Engine) handOver(ctx context.Context, in *Inbound, app string) error {
	if e.d.Apps == nil {
		return e.reject(ctx, in, 500, "No application bus")
	}
	m := in.Msg
	p := &ptx{
		ID: ptxID(in.TxKey), ServerKey: in.TxKey, Method: m.Str(m.Method), CallID: m.CallID(),
		Req: append([]byte(nil), m.Raw...), Src: in.Src, App: app, Call: e.newCall(in, false), Created: e.d.Now(),
	}
	fx := &effects{}
	if p.Call != nil {
		fx.emits = append(fx.emits, e.callStarted(in.CallKey, p))
	}
	if _, err := e.create(ctx, in.CallKey, p, fx); err != nil {
		return err
	}
	// Published even when the record existed: a redelivered event may be
	// one whose hand-over never left; the bus drops a duplicate by id.
	return e.d.Apps.HandOver(ctx, app, in)
}

// Command errors, mapped to the command's status by Command.
var (
	errBadCommand = errors.New("bad command")
	errAnswered   = errors.New("already answered")
)

// Command executes an application's reply or relay command.
func (e *Engine) Command(ctx context.Context, c *events.TMCommand) events.TMCommandReply {
	err := e.command(ctx, c)
	switch {
	case err == nil:
		return events.TMCommandReply{Status: 200, Reason: "OK"}
	case errors.Is(err, errBadCommand):
		return events.TMCommandReply{Status: 400, Reason: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return events.TMCommandReply{Status: 404, Reason: "tx_key: no such transaction (expired, or never handed to an application)"}
	case errors.Is(err, errAnswered):
		return events.TMCommandReply{Status: 409, Reason: err.Error()}
	default:
		return events.TMCommandReply{Status: 503, Reason: "try again: " + err.Error()}
	}
}

func (e *Engine) command(ctx context.Context, c *events.TMCommand) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{errBadCommand}, args...)...)
	}
	if c.CallKey == "" || strings.ContainsAny(c.CallKey, "{}") {
		return bad("call_key: required")
	}
	if c.TxKey == "" {
		return bad("tx_key: required")
	}
	var target Target
	switch c.Action {
	case events.TMActionReply:
		if c.Code < 100 || c.Code > 699 {
			return bad("code: want 100..699, got %d", c.Code)
		}
		for _, h := range c.Headers {
			name, _, ok := strings.Cut(h, ":")
			if !ok || strings.ContainsAny(h, "\r\n") || !token(strings.TrimSpace(name)) {
				return bad("headers: %q is not a \"Name: value\" line", h)
			}
			if strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
				return bad("headers: Content-Length is set by tm")
			}
		}
	case events.TMActionRelay:
		for _, u := range []struct{ field, v string }{{"uri", c.URI}, {"request_uri", c.RequestURI}} {
			if u.v == "" {
				continue
			}
			pu, err := sipmsg.ParseURI(u.v)
			if err != nil || (pu.Scheme != "sip" && pu.Scheme != "sips") {
				return bad("%s: %q is not a sip: or sips: URI", u.field, u.v)
			}
		}
		if c.URI == "" && c.RequestURI == "" {
			return bad("uri or request_uri: one is required")
		}
		target = Target{URI: c.RequestURI, NextHop: c.URI}
	default:
		return bad("action: want \"reply\" or \"relay\", got %q", c.Action)
	}
	return e.update(ctx, c.CallKey, ptxID(c.TxKey), func(p *ptx, fx *effects) error {
		if p.Final != 0 {
			return fmt.Errorf("%w: the transaction got its final response (%d)", errAnswered, p.Final)
		}
		if c.Action == events.TMActionRelay {
			if len(p.Branches) > 0 {
				return fmt.Errorf("%w: the transaction was already relayed", errAnswered)
			}
			p.Groups = [][]Target{{target}}
			e.next(p, c.CallKey, e.failoverForward(p), fx)
			return nil
		}
		req, err := sipmsg.Parse(p.Req, sipmsg.Datagram)
		if err != nil {
			return err
		}
		raw := sipmsg.Reply(req, c.Code, c.Reason, sipmsg.ReplyOptions{ToTag: tagFor(p.ServerKey), Server: e.cfg.Name, Headers: c.Headers})
		if c.Code >= 200 {
			p.Final, p.Last = c.Code, raw
		}
		fx.send(e.upstream(p.Src, raw, p.ServerKey, c.CallKey, p.CallID))
		if p.Call != nil && c.Code >= 300 {
			fx.emits = append(fx.emits, e.callMissed(c.CallKey, p, e.d.Now()))
		}
		return nil
	})
}

func token(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-.!%*_+`'~", r)) {
			return false
		}
	}
	return true
}
