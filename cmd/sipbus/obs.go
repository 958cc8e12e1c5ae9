package main

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/services/edge"
	"github.com/sipbus/sipbus/services/tm"
)

// upObs serves /readyz and /metrics of `sipbus up` on its HTTP address
// (beside /healthz, the click-to-dial API and the web page): ready while
// NATS answers, the stream exists and the store answers; the edge's and
// tm's counters, beside those the registrar, notifier and ctd registered
// on m when they were built. It returns the Health so SIGTERM can drain it.
func upObs(ctx context.Context, mux *http.ServeMux, m *obs.Metrics, nc *nats.Conn, js jetstream.JetStream, st store.Store, e *edge.Edge, t *tm.TM) *obs.Health {
	h := &obs.Health{}
	h.Add("nats", obs.NATS(nc, m.NATSRTT))
	h.Add("stream", obs.Stream(js, bus.DefaultStream))
	h.Add("redis", obs.Redis(st.Ping, m.RedisRTT))
	edge.RegisterMetrics(m, e)
	t.RegisterMetrics(m)
	obs.Mount(mux, h, m)
	go func() { <-ctx.Done(); h.Drain() }()
	return h
}
