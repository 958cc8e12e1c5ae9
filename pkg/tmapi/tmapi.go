// Package tmapi is the contract of tm's uac command, the heir of SER's FIFO
// t_uac_dlg: an application (ctd, the sipbus CLI, anything on the bus) asks
// tm to send a SIP request on its behalf, and tm runs the client
// transaction (retransmissions, Timers A/B/E/F, RFC 3263 next hops,
// forking to the registered contacts of an AOR of ours, one answer to a
// 401/407 with the credentials given).
//
// The wire format is JSON described by schemas/sipbus.tm.uac.v1.json:
// the request (UAC) at the top level, each reply (Response) under
// #/$defs/response, a cancel (Cancel) under #/$defs/cancel.
//
//	sipbus.tm.uac         UAC -> Response... (queue group sipbus-tm)
//	sipbus.tm.uac.cancel  Cancel            (every replica, no reply)
//
// Streaming: the command is a NATS request whose reply subject receives
// several messages: one per provisional response (Final false), then
// exactly one with Final set (a SIP final, a local 408/487/503, or a
// command error with Error and Field). Client.UAC hides this.
//
// Cancel: when the context of Client.UAC ends before the final, the
// client publishes a Cancel with the request's ID; the replica running it
// sends CANCEL (RFC 3261 §9.1) on every branch that had a provisional (the
// others when their first one arrives) and the final is the 487 (or a 2xx
// that crossed the CANCEL: tm then ACKs and BYEs it, the dialog is not
// kept).
//
// Dialogs: a 2xx to INVITE, SUBSCRIBE or REFER (RFC 6665 §4.1.2.4 and
// RFC 3515) creates a dialog; the Response carries its DialogID
// ("<callkey>-<16 hex>"). The dialog record (Call-ID, tags, local and
// remote CSeq, route set, remote target, owner) lives in Redis under the
// call's hash tag, so any tm replica can send the next request in it (a
// UAC with DialogID: tm fills Call-ID, tags, CSeq, Route and the
// Request-URI) — a BYE ends it once answered. tm ACKs an INVITE's 2xx
// itself unless the request says ACK "app" (then the application sends
// the ACK as a UAC with method ACK and the DialogID, e.g. with the answer
// of RFC 3725 flow I; its Response is a local "200 ACK sent").
//
// Requests tm receives inside such a dialog (NOTIFY after REFER, BYE from
// the far end, INFO, ...) are answered by tm at once — 200; a re-INVITE
// 488 (tm holds no media); a request in a dialog tm does not know gets
// tm's proxy answer, 404 "Not Here" — and, when the dialog has an Owner,
// published as sipbus.sip.request.received.v2 events (siptxkey set) on
// DialogSubject(owner, dialog id), on the stream (subject app.>), so an
// application subscribes with core NATS before it sends the uac, or reads
// them back from the stream. A BYE from the far end removes the dialog.
package tmapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/events"
)

// Service, queue group and subjects.
const (
	ServiceName      = "sipbus-tm"
	QueueGroup       = events.TMQueue
	SubjectUAC       = "sipbus.tm.uac"
	SubjectUACCancel = "sipbus.tm.uac.cancel"
	// EndpointUAC is the name of the uac endpoint in tm's micro service.
	EndpointUAC = "uac"
)

// Wire types.
type (
	// UAC is the request (schemas/sipbus.tm.uac.v1.json, top level).
	UAC = events.TMUAC
	// Auth are the credentials for one 401/407 challenge.
	Auth = events.TMUACAuth
	// Response is one streamed reply: a provisional, or the final.
	Response = events.TMUACResponse
	// Cancel asks the replica running a uac to CANCEL it.
	Cancel = events.TMUACCancel
)

// ACK modes of UAC.ACK.
const (
	ACKByTM  = "tm"
	ACKByApp = "app"
)

var token = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidToken reports whether s may be a uac ID or an Owner (it becomes a
// NATS subject token).
func ValidToken(s string) bool { return token.MatchString(s) }

// DialogSubject is where tm publishes the in-dialog requests it received
// for a dialog created by a uac with Owner owner.
func DialogSubject(owner, dialogID string) string { return "app." + owner + ".dialog." + dialogID }

// DialogSubjects matches every dialog of owner (for a subscription).
func DialogSubjects(owner string) string { return "app." + owner + ".dialog.*" }

// Error is a final Response whose Error is set: the command failed (bad
// input names its field; 404 no such dialog; 503 try again). A SIP final
// of 300 or more is an answer, not an Error.
type Error struct{ Response }

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("tm uac: %d %s (field %s)", e.Status, e.Response.Error, e.Field)
	}
	return fmt.Sprintf("tm uac: %d %s", e.Status, e.Response.Error)
}

// ErrNoTM means no tm replica took the command (none running or
// reachable: the NATS server answers "no responders" at once).
var ErrNoTM = errors.New("tmapi: no tm answered")

// ErrNoFinal means the command's stream ended without a final response
// (the replica running it died, or it took longer than the client allows).
var ErrNoFinal = errors.New("tmapi: no final response")

// Client sends uac commands over NATS.
type Client struct {
	NC *nats.Conn
	// Max bounds the whole command; default 64*T1 (32s) plus 5s for a
	// non-INVITE, and UAC.Timeout (60s default) plus 40s for an INVITE.
	Max time.Duration
}

// NewID returns a random uac ID.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// UAC sends req and returns its final response; provisional ones go to
// onProvisional (may be nil) in order, on the caller's goroutine. A final
// with a SIP status of 300 or more is returned with a nil error; a command
// error (Response.Error) is returned as *Error. When ctx ends first, the
// uac is cancelled (see the package doc) and UAC waits up to 5 seconds for
// its final, which it returns with ctx's error.
func (c *Client) UAC(ctx context.Context, req *UAC, onProvisional func(*Response)) (*Response, error) {
	if req.ID == "" {
		req.ID = NewID()
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("tmapi: %w", err)
	}
	inbox := c.NC.NewInbox()
	ch := make(chan *nats.Msg, 64)
	sub, err := c.NC.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("tmapi: subscribe: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := c.NC.PublishRequest(SubjectUAC, inbox, b); err != nil {
		return nil, fmt.Errorf("tmapi: publish: %w", err)
	}
	max := c.Max
	if max <= 0 {
		max = 37 * time.Second
		if req.Method == "INVITE" {
			t := req.Timeout
			if t <= 0 {
				t = 60
			}
			max = time.Duration(t)*time.Second + 40*time.Second
		}
	}
	whole := time.NewTimer(max)
	defer whole.Stop()
	done := ctx.Done()
	var grace <-chan time.Time
	var ctxErr error
	got := false
	for {
		select {
		case m := <-ch:
			if !got && len(m.Data) == 0 && m.Header.Get("Status") == "503" {
				return nil, fmt.Errorf("%w on %s (is `sipbus tm` or `sipbus up` running?)", ErrNoTM, SubjectUAC)
			}
			got = true
			var r Response
			if err := json.Unmarshal(m.Data, &r); err != nil {
				return nil, fmt.Errorf("tmapi: bad reply on %s: %w", SubjectUAC, err)
			}
			if r.Final {
				if r.Error != "" {
					return &r, &Error{r}
				}
				return &r, ctxErr
			}
			if onProvisional != nil {
				onProvisional(&r)
			}
		case <-whole.C:
			return nil, fmt.Errorf("%w within %s", ErrNoFinal, max)
		case <-done:
			ctxErr = ctx.Err()
			done = nil
			cb, _ := json.Marshal(Cancel{ID: req.ID})
			_ = c.NC.Publish(SubjectUACCancel, cb)
			grace = time.After(5 * time.Second)
		case <-grace:
			return nil, fmt.Errorf("%w after cancel: %w", ErrNoFinal, ctxErr)
		}
	}
}
