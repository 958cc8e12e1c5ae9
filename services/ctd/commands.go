package ctd

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/services/ctd/internal/ports"
)

// Operator commands (NATS request/reply, queue group sipbus-ctd): `sipbus
// ctd token AOR` and `sipbus ctd FROM TO`. Whoever reaches NATS is an
// operator (as for `sipbus user`).
const (
	SubjectToken = "sipbus.ctd.token"
	SubjectCall  = "sipbus.ctd.call"
	SubjectHang  = "sipbus.ctd.hangup"
)

// TokenRequest asks for a new API token of AOR.
type TokenRequest struct {
	AOR string `json:"aor"`
}

// CallCommand starts a click-to-dial as an operator; ID is chosen by the
// caller (so it can subscribe to ctd.*.<id> first), "" for a fresh one.
type CallCommand struct {
	ID   string `json:"id,omitempty"`
	From string `json:"from"`
	To   string `json:"to"`
}

// CommandReply is every command's reply: Status 200, or 4xx/5xx with
// Error naming Field.
type CommandReply struct {
	Status int             `json:"status"`
	Error  string          `json:"error,omitempty"`
	Field  string          `json:"field,omitempty"`
	Token  string          `json:"token,omitempty"`
	AOR    string          `json:"aor,omitempty"`
	Call   *ports.CallView `json:"call,omitempty"`
}

func reply(r micro.Request, v CommandReply) {
	b, _ := json.Marshal(v)
	_ = r.Respond(b, micro.WithHeaders(micro.Headers{"Status": []string{strconv.Itoa(v.Status)}}))
}

func (s *Service) serveCommands() error {
	svc, err := micro.AddService(s.d.NC, s.inst.Config(micro.Config{Name: "sipbus-ctd", QueueGroup: QueueGroup,
		Description: "click-to-dial: API tokens, operator calls"}))
	if err != nil {
		return err
	}
	s.svc = svc
	add := func(name, subj string, h micro.HandlerFunc) error {
		return svc.AddEndpoint(name, h, micro.WithEndpointSubject(subj))
	}
	if err := add("token", SubjectToken, s.cmdToken); err != nil {
		return err
	}
	if err := add("call", SubjectCall, s.cmdCall); err != nil {
		return err
	}
	return add("hangup", SubjectHang, s.cmdHangup)
}

func (s *Service) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.base, 10*time.Second)
}

func (s *Service) cmdToken(r micro.Request) {
	var req TokenRequest
	if fe := events.DecodeCommand(SubjectToken, r.Data(), &req); fe != nil {
		reply(r, CommandReply{Status: 400, Field: fe.Field, Error: fe.Error()})
		return
	}
	_, aor, err := ports.CheckURI("aor", "sip:"+trimSIP(req.AOR))
	if err != nil {
		reply(r, CommandReply{Status: 400, Field: "aor", Error: err.Error()})
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if s.d.Directory != nil {
		if ok, err := (dirUsers{s.d.Directory}).Exists(ctx, aor); err != nil || !ok {
			reply(r, CommandReply{Status: 404, Field: "aor", Error: "no subscriber " + aor})
			return
		}
	}
	tok, err := s.CreateToken(ctx, aor)
	if err != nil {
		reply(r, CommandReply{Status: 503, Error: "token store unavailable"})
		return
	}
	s.log.Info("ctd: API token created", "aor", aor) // never the token
	reply(r, CommandReply{Status: 200, Token: tok, AOR: aor})
}

func trimSIP(s string) string {
	for _, p := range []string{"sip:", "sips:"} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}

func (s *Service) cmdCall(r micro.Request) {
	var req CallCommand
	if fe := events.DecodeCommand(SubjectCall, r.Data(), &req); fe != nil {
		reply(r, CommandReply{Status: 400, Field: fe.Field, Error: fe.Error()})
		return
	}
	if req.ID == "" {
		req.ID = NewID()
	}
	if !ports.ValidID(req.ID) {
		reply(r, CommandReply{Status: 400, Field: "id", Error: "a call id is 1 to 64 letters, digits, - or _"})
		return
	}
	from, aor, err := ports.CheckURI("from", req.From)
	if err != nil {
		reply(r, CommandReply{Status: 400, Field: "from", Error: err.Error()})
		return
	}
	to, _, err := ports.CheckURI("to", req.To)
	if err != nil {
		reply(r, CommandReply{Status: 400, Field: "to", Error: err.Error()})
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if s.d.Directory != nil {
		if ok, err := (dirUsers{s.d.Directory}).Exists(ctx, aor); err != nil || !ok {
			reply(r, CommandReply{Status: 404, Field: "from", Error: "no subscriber " + aor})
			return
		}
	}
	st, err := s.Dial(ctx, req.ID, aor, from, to)
	if errors.Is(err, ports.ErrExists) {
		reply(r, CommandReply{Status: 409, Field: "id", Error: "a call with this id exists"})
		return
	}
	if err != nil {
		reply(r, CommandReply{Status: 503, Error: "click-to-dial unavailable: " + err.Error()})
		return
	}
	v := ports.View(st)
	reply(r, CommandReply{Status: 200, Call: &v})
}

func (s *Service) cmdHangup(r micro.Request) {
	var req CallCommand
	if fe := events.DecodeCommand(SubjectHang, r.Data(), &req); fe != nil {
		reply(r, CommandReply{Status: 400, Field: fe.Field, Error: fe.Error()})
		return
	}
	if !ports.ValidID(req.ID) {
		reply(r, CommandReply{Status: 400, Field: "id", Error: "want {\"id\": call id}"})
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	st, err := s.Hangup(ctx, req.ID)
	if errors.Is(err, ports.ErrNotFound) {
		reply(r, CommandReply{Status: 404, Field: "id", Error: "no such call"})
		return
	}
	if err != nil {
		reply(r, CommandReply{Status: 503, Error: err.Error()})
		return
	}
	v := ports.View(st)
	reply(r, CommandReply{Status: 200, Call: &v})
}
