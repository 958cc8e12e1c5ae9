package registrar

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/services/registrar/internal/ports"
)

// RegisterMetrics exports sipbus_registrar_registers_total{result} on m,
// read at scrape time from the counters the REGISTER handler keeps. The
// results: ok (2xx), challenged (401/407), rejected (other 3xx-6xx),
// failed (5xx: the store failed), shed (503 under overload) and
// retransmission (answered again from the reply cache); each REGISTER
// event the registrar answers is counted once. The overload detector's
// gauges, sipbus_registrar_queue_delay_seconds and
// sipbus_registrar_overloaded, read 0 until the registrar started.
func (r *Registrar) RegisterMetrics(m *obs.Metrics) {
	m.Gauge("registrar_queue_delay_seconds", "How long the latest REGISTER waited, from the edge's arrival stamp to the registrar's handling.", nil,
		func() float64 {
			if l := r.load.Load(); l != nil {
				return l.Last().Seconds()
			}
			return 0
		})
	m.Flag("registrar_overloaded", "1 while the registrar's REGISTERs wait above the queue target (overload: the edges shed REGISTERs).", nil,
		func() bool {
			l := r.load.Load()
			return l != nil && l.Overloaded()
		})
	res := &r.reg.Results
	for _, name := range ports.ResultNames {
		m.Counter("registrar_registers_total", "REGISTER requests answered, by result.",
			prometheus.Labels{"result": name}, func() float64 { return float64(res.Load(name)) })
	}
}
