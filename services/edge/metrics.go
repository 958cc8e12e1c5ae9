package edge

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// RegisterMetrics exports the edge's traffic counters on m. The counters
// stay the atomics the hot path already updates; they are read at scrape
// time.
func RegisterMetrics(m *obs.Metrics, e *Edge) {
	counter := func(name, help string, f func(Counters) uint64) {
		m.Counter(name, help, nil, func() float64 { return float64(f(e.Counters())) })
	}
	counter("edge_messages_received_total", "SIP messages read from a socket (datagrams and frames).", func(c Counters) uint64 { return c.Received })
	counter("edge_messages_sent_total", "SIP messages written to a socket.", func(c Counters) uint64 { return c.Sent })
	counter("edge_retransmissions_absorbed_total", "Retransmissions and ACKs answered or swallowed by the edge itself.", func(c Counters) uint64 { return c.Absorbed })
	counter("edge_republished_total", "Unanswered retransmitted requests handed to the bus again.", func(c Counters) uint64 { return c.Republished })
	counter("edge_rejected_total", "Requests answered statelessly with an error (4xx/5xx).", func(c Counters) uint64 { return c.Rejected })
	counter("edge_shed_total", "New dialogs answered 503 with Retry-After because of overload.", func(c Counters) uint64 { return c.Shed })
	counter("edge_unavailable_total", "Requests answered 503 because the bus failed.", func(c Counters) uint64 { return c.Unavailable })
	counter("edge_dropped_total", "Unparseable input, bad responses, full queues: dropped unanswered.", func(c Counters) uint64 { return c.Dropped })
	counter("edge_published_total", "Events handed to the bus.", func(c Counters) uint64 { return c.Published })
	counter("edge_transmitted_total", "Messages sent for other services (sip.out).", func(c Counters) uint64 { return c.Transmitted })
	counter("edge_undeliverable_total", "sip.out messages that could not be sent.", func(c Counters) uint64 { return c.Undeliverable })
	counter("edge_flooded_total", "Messages and connections from sources blocked by flood control.", func(c Counters) uint64 { return c.Flooded })
	m.Gauge("edge_transactions", "Server transactions the edge remembers now.", nil, func() float64 { return float64(e.Counters().Transactions) })
	m.Gauge("edge_queue_delay_seconds", "How long the latest UDP datagram waited in the edge's queue (socket and workers).", nil,
		func() float64 { return e.Load(app.ServiceTM).QueueDelay.Seconds() })
	m.Flag("edge_overloaded", "1 while the edge's own queue stands above its target (overload).", nil,
		func() bool { return e.Load(app.ServiceTM).Overloaded })
	for _, svc := range []string{app.ServiceTM, app.ServiceRegistrar} {
		m.Flag("edge_replicas_overloaded", "1 while a replica of the service reports overload in its beat.", prometheus.Labels{"service": svc},
			func() bool { return e.Load(svc).Replicas })
		m.Gauge("edge_admission_share", "Share of new dialogs for the service let through (1: all; less while shedding).", prometheus.Labels{"service": svc},
			func() float64 { return e.Load(svc).Share })
		m.Gauge("edge_admission_limit", "New dialogs a second the edge lets through to the service while it limits them (0: no limit).", prometheus.Labels{"service": svc},
			func() float64 { return e.Load(svc).Limit })
		m.Gauge("edge_admission_served", "New dialogs a second the edge let through to the service that the service answered (its first response; smoothed): the rate the limit follows.", prometheus.Labels{"service": svc},
			func() float64 { return e.Load(svc).Served })
	}
	m.Registry.MustRegister(sipCollector{
		c: &e.counters.SIP,
		req: prometheus.NewDesc("sipbus_sip_requests_total", "SIP requests by direction (in: received, out: sent) and method (other: any method not named).",
			[]string{"direction", "method"}, nil),
		res: prometheus.NewDesc("sipbus_sip_responses_total", "SIP responses by direction (in: received, out: sent) and status code.",
			[]string{"direction", "code"}, nil),
	})
	m.Gauge("edge_flows", "Open connections (tcp, tls, ws, wss).", nil, func() float64 { return float64(e.Counters().Flows) })
}

// sipCollector exports the edge's SIP message counts: requests by method,
// responses by status code, each by direction.
type sipCollector struct {
	c        *app.SIPCounts
	req, res *prometheus.Desc
}

func (s sipCollector) Describe(ch chan<- *prometheus.Desc) { ch <- s.req; ch <- s.res }

func (s sipCollector) Collect(ch chan<- prometheus.Metric) {
	dirs := [2]string{"in", "out"}
	s.c.Each(func(dir int, method string, code int, n uint64) {
		if code == 0 {
			ch <- prometheus.MustNewConstMetric(s.req, prometheus.CounterValue, float64(n), dirs[dir], method)
		} else {
			ch <- prometheus.MustNewConstMetric(s.res, prometheus.CounterValue, float64(n), dirs[dir], strconv.Itoa(code))
		}
	})
}
