package obs

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every sipbus metric.
const Namespace = "sipbus"

// rttBuckets span a loopback round trip (50 µs) to a stalled one (2.5 s).
var rttBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// Metrics is one process's Prometheus registry with the metrics every
// service shares; services add their own with Registry.MustRegister or
// the helpers below.
type Metrics struct {
	Registry *prometheus.Registry
	// NATSRTT and RedisRTT are round trips measured by the readiness
	// checks (and so by every probe and scrape of /readyz): a PING to the
	// NATS server, a PING to Redis.
	NATSRTT  prometheus.Histogram
	RedisRTT prometheus.Histogram
	// ConsumerLag is the messages a durable consumer has not yet been
	// delivered (JetStream's num_pending), by stream and consumer.
	ConsumerLag *prometheus.GaugeVec
}

// NewMetrics returns a registry holding the Go runtime and process
// collectors, sipbus_build_info{service} and the shared metrics.
func NewMetrics(service string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		NATSRTT: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "nats_rtt_seconds",
			Help: "Round trip to the NATS server (PING/PONG), measured by the readiness check.", Buckets: rttBuckets,
		}),
		RedisRTT: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "redis_rtt_seconds",
			Help: "Round trip to Redis (PING), measured by the readiness check.", Buckets: rttBuckets,
		}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "consumer_lag_messages",
			Help: "Messages of the stream not yet delivered to the durable consumer (JetStream num_pending).",
		}, []string{"stream", "consumer"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "Always 1; the service label names the process's service.",
		ConstLabels: prometheus.Labels{"service": service},
	})
	info.Set(1)
	reg.MustRegister(m.NATSRTT, m.RedisRTT, m.ConsumerLag, info)
	return m
}

// Counter registers a counter whose value fn reads at scrape time (an
// atomic the service keeps on its hot path). name gets the sipbus_ prefix
// and must end in _total.
func (m *Metrics) Counter(name, help string, labels prometheus.Labels, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Name: name, Help: help, ConstLabels: labels,
	}, fn))
}

// Gauge registers a gauge read at scrape time.
func (m *Metrics) Gauge(name, help string, labels prometheus.Labels, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: name, Help: help, ConstLabels: labels,
	}, fn))
}

// Flag registers a gauge that is 1 while fn reports true, 0 otherwise (a
// state: overloaded, draining), read at scrape time.
func (m *Metrics) Flag(name, help string, labels prometheus.Labels, fn func() bool) {
	m.Gauge(name, help, labels, func() float64 {
		if fn() {
			return 1
		}
		return 0
	})
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Mount serves /readyz from h and /metrics from m on mux (httpfront's,
// which serves /healthz). Either may be nil: then that path is not served.
func Mount(mux *http.ServeMux, h *Health, m *Metrics) {
	if h != nil {
		mux.HandleFunc("GET "+ReadyzPath, h.ServeReadyz)
	}
	if m != nil {
		mux.Handle("GET "+MetricsPath, m.Handler())
	}
}

// CTDCalls registers and returns sipbus_ctd_calls_total{outcome}: the hook
// for click-to-dial, which counts each call it placed once, by how it
// ended (answered, busy, no-answer, failed, ...; a short fixed set).
func (m *Metrics) CTDCalls() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "ctd_calls_total",
		Help: "Click-to-dial calls by outcome.",
	}, []string{"outcome"})
	m.Registry.MustRegister(c)
	return c
}
