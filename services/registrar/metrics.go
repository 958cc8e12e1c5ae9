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
// event the registrar answers is counted once.
func (r *Registrar) RegisterMetrics(m *obs.Metrics) {
	res := &r.reg.Results
	for _, name := range ports.ResultNames {
		m.Counter("registrar_registers_total", "REGISTER requests answered, by result.",
			prometheus.Labels{"result": name}, func() float64 { return float64(res.Load(name)) })
	}
}
