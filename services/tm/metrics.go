package tm

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipbus/sipbus/pkg/obs"
)

// decisionBuckets span a decision from memory (50 µs) to one that waited
// on a slow store (1 s).
var decisionBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// RegisterMetrics exports tm's counters on m and times its decisions
// (sipbus_tm_decision_seconds), running or not. The counters are the
// atomics the input already keeps, read at scrape time.
func (t *TM) RegisterMetrics(m *obs.Metrics) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: obs.Namespace, Name: "tm_decision_seconds",
		Help:    "Time from a SIP event's decode to tm's decision carried out (state written, sends queued).",
		Buckets: decisionBuckets,
	})
	m.Registry.MustRegister(h)
	t.input.SetDecision(h)
	load := t.input.Load()
	m.Gauge("tm_queue_delay_seconds", "How long the latest SIP event waited, from the edge's arrival stamp to tm's handling.", nil,
		func() float64 { return load.Last().Seconds() })
	m.Flag("tm_overloaded", "1 while tm's inputs wait above the queue target (overload: the edges shed new dialogs).", nil,
		load.Overloaded)
	if tr := t.tracked; tr != nil {
		const lookupsHelp = "Location lookups, by where the answer came from: memory (the copy Redis keeps true, location.Tracked) or redis."
		m.Counter("tm_location_lookups_total", lookupsHelp, prometheus.Labels{"from": "memory"},
			func() float64 { return float64(tr.Stats().Hits) })
		m.Counter("tm_location_lookups_total", lookupsHelp, prometheus.Labels{"from": "redis"},
			func() float64 { return float64(tr.Stats().Reads) })
		m.Counter("tm_location_drops_total", "AORs whose copy in memory was dropped: Redis told of a change, or this process wrote it.", nil,
			func() float64 { return float64(tr.Stats().Drops) })
		m.Flag("tm_location_tracking", "1 while location lookups are answered from memory (the invalidation connection to Redis is up).", nil, tr.Tracking)
	}
	st := &t.input.Stats
	for _, c := range []struct {
		name, help string
		v          interface{ Load() uint64 }
	}{
		{"tm_messages_total", "SIP events handled.", &st.Messages},
		{"tm_transactions_total", "New requests handed to the engine (one server transaction each).", &st.Transactions},
		{"tm_shed_total", "New requests answered 503 by tm: they waited T1 or longer while its queue stood above the target (overload the edges did not shed in time).", &st.Shed},
		{"tm_stale_total", "Non-INVITE requests dropped: older than Timer F when they arrived.", &st.Stale},
		{"tm_timers_total", "Transaction deadlines (RFC 3261 §17 timers) handled.", &st.Timers},
		{"tm_lookups_total", "DNS resolutions of next hops.", &st.Lookups},
		{"tm_bad_total", "Events that were not SIP tm can use.", &st.Bad},
		{"tm_failed_total", "Inputs whose handling failed (logged).", &st.Failed},
	} {
		v := c.v
		m.Counter(c.name, c.help, nil, func() float64 { return float64(v.Load()) })
	}
}
