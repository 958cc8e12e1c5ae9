package ports

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Commands is the edge's NATS micro service "sipbus-edge": the send command
// on the shared queue subject and on the edge's own subject, and the stats
// command. `nats micro ls|info|stats sipbus-edge` and `sipbus ps` discover it.
type Commands struct {
	svc  micro.Service
	nc   *nats.Conn
	core *app.Edge
	log  *slog.Logger
	sem  chan struct{}
	wg   sync.WaitGroup
	ctx  context.Context
}

// CommandsOptions tune the endpoint.
type CommandsOptions struct {
	Version     string
	Concurrency int // sends in progress at once; default 256
	Counters    *app.Counters
	Log         *slog.Logger
}

// StartCommands registers the service on nc; ctx bounds every send.
func StartCommands(ctx context.Context, nc *nats.Conn, core *app.Edge, opt CommandsOptions) (*Commands, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 256
	}
	if opt.Version == "" {
		opt.Version = "0.1.0"
	}
	c := &Commands{nc: nc, core: core, log: opt.Log, sem: make(chan struct{}, opt.Concurrency), ctx: ctx}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        edgeapi.ServiceName,
		Version:     opt.Version,
		Description: "sipbus SIP edge: sends SIP for other services",
		Metadata:    map[string]string{"edge_id": core.ID()},
		StatsHandler: func(*micro.Endpoint) any {
			return opt.Counters.Snapshot()
		},
	})
	if err != nil {
		return nil, err
	}
	c.svc = svc
	add := func(name, subject, queue string, h micro.HandlerFunc) error {
		return svc.AddEndpoint(name, h, micro.WithEndpointSubject(subject), micro.WithEndpointQueueGroup(queue))
	}
	if err := add("send", edgeapi.SendSubject, edgeapi.QueueGroup, c.handleSend); err != nil {
		_ = svc.Stop()
		return nil, err
	}
	own := edgeapi.QueueGroup + "-" + core.ID()
	if err := add("send-direct", edgeapi.EdgeSendSubject(core.ID()), own, c.handleSend); err != nil {
		_ = svc.Stop()
		return nil, err
	}
	if err := add("stats", edgeapi.EdgeStatsSubject(core.ID()), own, func(r micro.Request) {
		_ = r.RespondJSON(opt.Counters.Snapshot())
	}); err != nil {
		_ = svc.Stop()
		return nil, err
	}
	return c, nil
}

// handleSend runs each send on its own goroutine, at most Concurrency at
// once; past that the subscription waits (back-pressure on the caller).
func (c *Commands) handleSend(r micro.Request) {
	select {
	case c.sem <- struct{}{}:
	case <-c.ctx.Done():
		respond(r, edgeapi.SendReply{Status: 503, Reason: "edge shutting down", Edge: c.core.ID()})
		return
	}
	c.wg.Add(1)
	go func() {
		defer func() { <-c.sem; c.wg.Done() }()
		respond(r, c.send(r.Data()))
	}()
}

func (c *Commands) send(data []byte) edgeapi.SendReply {
	var req edgeapi.SendRequest
	if err := bus.DecodeJSON(data, &req); err != nil {
		return edgeapi.SendReply{Status: 400, Reason: "request: invalid JSON: " + err.Error(), Edge: c.core.ID()}
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	if req.Transport == app.TCP && req.Flow != "" {
		if owner := edgeapi.FlowEdge(req.Flow); owner != c.core.ID() {
			return c.forward(ctx, owner, &req, data)
		}
	}
	return c.core.Send(ctx, &req)
}

// forward hands a send for another edge's TCP flow to that edge. When the
// owner is gone and a dest is known, this edge opens a new connection.
func (c *Commands) forward(ctx context.Context, owner string, req *edgeapi.SendRequest, data []byte) edgeapi.SendReply {
	msg, err := c.nc.RequestWithContext(ctx, edgeapi.EdgeSendSubject(owner), data)
	if err == nil {
		var rep edgeapi.SendReply
		if err := json.Unmarshal(msg.Data, &rep); err != nil {
			return edgeapi.SendReply{Status: 502, Reason: "edge " + owner + ": bad reply: " + err.Error(), Edge: c.core.ID()}
		}
		return rep
	}
	if errors.Is(err, nats.ErrNoResponders) && req.Dest != "" {
		again := *req
		again.Flow = ""
		return c.core.Send(ctx, &again)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return edgeapi.SendReply{Status: 404, Reason: "flow: edge " + owner + " holding " + req.Flow + " is gone and no dest was given", Edge: c.core.ID()}
	}
	return edgeapi.SendReply{Status: 503, Reason: "edge " + owner + ": " + err.Error(), Edge: c.core.ID()}
}

func respond(r micro.Request, rep edgeapi.SendReply) {
	var opts []micro.RespondOpt
	if rep.Status >= 300 {
		opts = append(opts, micro.WithHeaders(micro.Headers{
			"Nats-Service-Error-Code": {strconv.Itoa(rep.Status)},
			"Nats-Service-Error":      {rep.Reason},
		}))
	}
	_ = r.RespondJSON(rep, opts...)
}

// Stop deregisters the service and waits for sends in progress.
func (c *Commands) Stop() error {
	err := c.svc.Stop()
	c.wg.Wait()
	return err
}
