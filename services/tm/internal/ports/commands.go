package ports

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// ServiceName is tm's nats.go/micro service (sipbus ps lists it).
const ServiceName = "sipbus-tm"

// Commands serves the application command endpoint (sipbus.tm.command,
// queue group sipbus-tm: any replica answers). A command runs under the
// partition lock of its call (in.OnCall), as the call's messages do: it
// changes the same in-memory transaction.
func Commands(nc *nats.Conn, inst *mgmt.Instance, eng *app.Engine, in *Input) (micro.Service, error) {
	svc, err := micro.AddService(nc, inst.Config(micro.Config{
		Name: ServiceName, Description: "sipbus transaction manager",
		Metadata: map[string]string{"id": inst.ID},
	}))
	if err != nil {
		return nil, err
	}
	err = svc.AddEndpoint("command", micro.HandlerFunc(func(r micro.Request) {
		var c events.TMCommand
		rep := events.TMCommandReply{Status: 400}
		if fe := events.DecodeCommand(events.CommandTM, r.Data(), &c); fe != nil {
			rep.Reason, rep.Field = fe.Error(), fe.Field
		} else {
			in.OnCall(c.CallKey, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				rep = eng.Command(ctx, &c)
			})
		}
		b, _ := json.Marshal(rep)
		_ = r.Respond(b)
	}), micro.WithEndpointSubject(events.TMCommandSubject), micro.WithEndpointQueueGroup(events.TMQueue),
		mgmt.Schema(events.SchemaURL(events.CommandTM)))
	if err != nil {
		_ = svc.Stop()
		return nil, err
	}
	return svc, nil
}
