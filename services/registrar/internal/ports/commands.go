package ports

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/regapi"
)

// CommandTimeout bounds the work of one management command.
const CommandTimeout = 10 * time.Second

// Commands serves the management endpoints of package regapi as the
// nats.go/micro service regapi.ServiceName (queue group regapi.QueueGroup:
// any replica answers).
func Commands(nc *nats.Conn, inst *mgmt.Instance, mg *Manager) (micro.Service, error) {
	svc, err := micro.AddService(nc, inst.Config(micro.Config{
		Name: regapi.ServiceName, QueueGroup: regapi.QueueGroup,
		Description: "sipbus registrar: subscribers and location (ul_*)",
		Metadata:    map[string]string{"id": inst.ID},
	}))
	if err != nil {
		return nil, err
	}
	eps := []struct {
		name, subject, command string
		h                      micro.HandlerFunc
	}{
		{"user-add", regapi.SubjectUserAdd, events.CommandRegistrarUserAdd, endpoint(events.CommandRegistrarUserAdd, mg.UserAdd, func(r regapi.UserReply) regapi.Reply { return r.Reply })},
		{"user-passwd", regapi.SubjectUserPasswd, events.CommandRegistrarUserPasswd, endpoint(events.CommandRegistrarUserPasswd, mg.UserPasswd, func(r regapi.UserReply) regapi.Reply { return r.Reply })},
		{"user-set", regapi.SubjectUserSet, events.CommandRegistrarUserSet, endpoint(events.CommandRegistrarUserSet, mg.UserSet, func(r regapi.UserReply) regapi.Reply { return r.Reply })},
		{"user-rm", regapi.SubjectUserRemove, events.CommandRegistrarUserRemove, endpoint(events.CommandRegistrarUserRemove, mg.UserRemove, func(r regapi.Reply) regapi.Reply { return r })},
		{"user-list", regapi.SubjectUserList, events.CommandRegistrarUserList, endpoint(events.CommandRegistrarUserList, mg.UserList, func(r regapi.UserListReply) regapi.Reply { return r.Reply })},
		{"ul-show", regapi.SubjectULShow, events.CommandRegistrarULShow, endpoint(events.CommandRegistrarULShow, mg.ULShow, func(r regapi.ULShowReply) regapi.Reply { return r.Reply })},
		{"ul-add", regapi.SubjectULAdd, events.CommandRegistrarULAdd, endpoint(events.CommandRegistrarULAdd, mg.ULAdd, func(r regapi.ULShowReply) regapi.Reply { return r.Reply })},
		{"ul-rm", regapi.SubjectULRemove, events.CommandRegistrarULRemove, endpoint(events.CommandRegistrarULRemove, mg.ULRemove, func(r regapi.ULShowReply) regapi.Reply { return r.Reply })},
		{"ul-dump", regapi.SubjectULDump, events.CommandRegistrarULDump, endpoint(events.CommandRegistrarULDump, mg.ULDump, func(r regapi.ULDumpReply) regapi.Reply { return r.Reply })},
	}
	for _, ep := range eps {
		if err := svc.AddEndpoint(ep.name, ep.h, micro.WithEndpointSubject(ep.subject), micro.WithEndpointQueueGroup(regapi.QueueGroup),
			mgmt.Schema(events.SchemaURL(ep.command))); err != nil {
			_ = svc.Stop()
			return nil, err
		}
	}
	return svc, nil
}

// endpoint decodes the request of command, runs fn and responds with its
// reply; a reply whose status is not 200 is sent as a bare regapi.Reply
// (status and reason only).
func endpoint[Req, Rep any](command string, fn func(context.Context, Req) Rep, status func(Rep) regapi.Reply) micro.HandlerFunc {
	return func(r micro.Request) {
		var out any
		var req Req
		if fe := events.DecodeCommand(command, r.Data(), &req); fe != nil {
			out = regapi.Reply{Status: 400, Reason: fe.Error(), Field: fe.Field}
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
			rep := fn(ctx, req)
			cancel()
			out = rep
			if st := status(rep); st.Status != 200 {
				out = st
			}
		}
		b, _ := json.Marshal(out)
		_ = r.Respond(b)
	}
}
