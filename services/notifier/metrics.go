package notifier

import (
	"github.com/sipbus/sipbus/pkg/obs"
)

// RegisterMetrics exports the notifier's counters on m (read at scrape
// time from the atomics the handlers keep). New calls it when
// Deps.Metrics is set.
func (n *Notifier) RegisterMetrics(m *obs.Metrics) {
	c := &n.h.Counters
	for _, x := range []struct {
		name, help string
		v          interface{ Load() uint64 }
	}{
		{"notifier_mails_sent_total", "Missed-call mails (and digests) the SMTP server accepted.", &c.Sent},
		{"notifier_mails_failed_total", "Mail attempts that failed for now (SMTP or store trouble): retried with backoff.", &c.Temporary},
		{"notifier_dead_lettered_total", "Notifications given up after the last attempt (dead letters; see `sipbus notifier failed`).", &c.DeadLettered},
		{"notifier_duplicates_total", "Redelivered events whose notification was already done (not sent twice).", &c.Duplicates},
		{"notifier_skipped_total", "Events that needed no notification (no address, opted out, answered).", &c.Skipped},
		{"notifier_programs_run_total", "Exec rules' programs run.", &c.Ran},
		{"notifier_programs_failed_total", "Exec rules' programs that failed.", &c.ExecFailed},
	} {
		v := x.v
		m.Counter(x.name, x.help, nil, func() float64 { return float64(v.Load()) })
	}
}
