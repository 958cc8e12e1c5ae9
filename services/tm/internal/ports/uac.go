package ports

import (
	"encoding/json"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/tm/internal/uac"
)

// UAC serves the uac command on tm's micro service (sipbus.tm.uac, queue
// group sipbus-tm: any replica takes it and streams the responses to the
// request's reply subject) and listens for cancels (sipbus.tm.uac.cancel,
// every replica: the one running the uac acts). The returned subscription
// is the cancel listener.
func UAC(svc micro.Service, nc *nats.Conn, rn *uac.Runner) (*nats.Subscription, error) {
	err := svc.AddEndpoint(tmapi.EndpointUAC, micro.HandlerFunc(func(r micro.Request) {
		reply := r.Reply()
		send := func(resp *tmapi.Response) {
			b, _ := json.Marshal(resp)
			if reply != "" {
				_ = nc.Publish(reply, b)
			}
		}
		req, fe := uac.Decode(r.Data())
		if fe != nil {
			send(&tmapi.Response{Status: 400, Reason: "Bad Request", Final: true, Local: true, Error: fe.Error(), Field: fe.Field})
			return
		}
		rn.Start(req, send)
	}), micro.WithEndpointSubject(tmapi.SubjectUAC), micro.WithEndpointQueueGroup(tmapi.QueueGroup))
	if err != nil {
		return nil, err
	}
	return nc.Subscribe(tmapi.SubjectUACCancel, func(m *nats.Msg) {
		var c tmapi.Cancel
		if json.Unmarshal(m.Data, &c) == nil && tmapi.ValidToken(c.ID) {
			rn.Cancel(c.ID)
		}
	})
}
