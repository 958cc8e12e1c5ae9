package app

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/regapi"
)

// Answer is what a handler does with a request: Reply, Relay, Proxy or
// ProxyUser. The zero Answer is answered 500.
type Answer struct {
	action    string
	code      int
	reason    string
	headers   []string
	uri, ruri string
	lookup    string // ProxyUser: the AOR to look up
}

// Reply answers the request with code (100..699), an optional reason
// phrase (default: the standard one) and extra "Name: value" headers.
func Reply(code int, reason string, headers ...string) Answer {
	return Answer{action: events.TMActionReply, code: code, reason: reason, headers: headers}
}

// Relay relays the request with requestURI as its Request-URI (a contact,
// or a URI to route by DNS).
func Relay(requestURI string) Answer {
	return Answer{action: events.TMActionRelay, ruri: requestURI}
}

// Proxy relays the request unchanged (its Request-URI kept) to the next
// hop to (a sip: URI: a gateway, another proxy).
func Proxy(to string) Answer {
	return Answer{action: events.TMActionRelay, uri: to}
}

// ProxyUser relays the request to the registered contact of aor with the
// highest q (the registrar's location service); 480 when aor has none.
func ProxyUser(aor string) Answer {
	return Answer{action: events.TMActionRelay, lookup: aor}
}

// resolveUser turns ProxyUser into Relay to the best binding.
func (a *App) resolveUser(r *Request, aor string) Answer {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := a.reg.ULShow(ctx, regapi.ULShowRequest{AOR: aor})
	if err != nil || len(rep.Bindings) == 0 {
		if err != nil {
			a.opt.Log.Debug("app: no binding", "aor", aor, "err", err)
		}
		return Reply(480, "Temporarily Unavailable")
	}
	bs := rep.Bindings
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].Q > bs[j].Q })
	return Relay(bs[0].Contact)
}

// command sends the answer to tm.
func (a *App) command(r *Request, ans Answer) (events.TMCommandReply, error) {
	c := events.TMCommand{Action: ans.action, CallKey: r.ev.CallKey, TxKey: r.ev.TxKey, Code: ans.code,
		Reason: ans.reason, Headers: ans.headers, URI: ans.uri, RequestURI: ans.ruri}
	b, err := json.Marshal(c)
	if err != nil {
		return events.TMCommandReply{}, err
	}
	msg, err := a.nc.Request(events.TMCommandSubject, b, 5*time.Second)
	if err != nil {
		return events.TMCommandReply{}, fmt.Errorf("app: tm command: %w", err)
	}
	var rep events.TMCommandReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return rep, fmt.Errorf("app: tm reply: %w", err)
	}
	return rep, nil
}
