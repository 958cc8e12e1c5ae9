package app

import (
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Request is one request tm handed to the application.
type Request struct {
	ev  *events.SIP
	msg *sipmsg.Msg
	app *App
}

// Raw is the request as received, byte for byte.
func (r *Request) Raw() []byte { return r.ev.Raw }

// Msg is the header index (start line, each header's name and offsets,
// the body): typed views without parsing again.
func (r *Request) Msg() *sipmsg.Msg { return r.msg }

// Event is the hand-over event (id, source, transport, remote address...).
func (r *Request) Event() *events.SIP { return r.ev }

// ID is the event id: the key for Once.
func (r *Request) ID() string { return r.ev.ID }

// Method is the request's method.
func (r *Request) Method() string { return r.msg.Str(r.msg.Method) }

// RequestURI is the Request-URI as written.
func (r *Request) RequestURI() string { return r.msg.Str(r.msg.RequestURI) }

// CallID is the Call-ID.
func (r *Request) CallID() string { return r.msg.CallID() }

// From is the From URI ("" when it does not parse).
func (r *Request) From() string {
	na, err := r.msg.From()
	if err != nil {
		return ""
	}
	return na.URI.String()
}

// To is the To URI ("" when it does not parse).
func (r *Request) To() string {
	na, err := r.msg.To()
	if err != nil {
		return ""
	}
	return na.URI.String()
}

// Header is the first value of the named header ("" when absent).
func (r *Request) Header(name string) string {
	for _, h := range r.msg.Headers {
		if strings.EqualFold(r.msg.Str(h.Name), name) {
			return r.msg.HeaderValue(h)
		}
	}
	return ""
}

// Source is where the request came from (ip:port) and over what.
func (r *Request) Source() (addr, transport string) { return r.ev.Remote, r.ev.Transport }

// Sipgo parses the request with github.com/emiago/sipgo (on demand: it
// parses again).
func (r *Request) Sipgo() (*sip.Request, error) {
	m, err := r.msg.Sipgo()
	if err != nil {
		return nil, err
	}
	req, ok := m.(*sip.Request)
	if !ok {
		return nil, errors.New("app: not a request")
	}
	return req, nil
}
