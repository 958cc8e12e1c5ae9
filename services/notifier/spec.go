package notifier

import (
	"context"
	"fmt"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/notifier/internal/ports"
)

// Spec is the notifier in the one service shape (pkg/service): `sipbus
// notifier` and services/notifier/cmd/notifier run it. It needs Redis
// (fences, rate limits, digests and the subscriber directory, shared by
// the replicas); --http is off by default (/healthz, /readyz with the
// missed-call consumer's lag, /metrics when set).
var Spec = service.Spec[Config]{
	Name:    "notifier",
	Summary: "missed-call mail and exec rules on call events",
	Redis:   service.RedisRequired,
	Default: DefaultConfig,
	Build:   build,
}

func build(ctx context.Context, cfg *Config, d *service.Deps) (service.Service, error) {
	dir, st, closeState, err := OpenState(ctx, d.Common.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	d.OnClose(func() { _ = closeState() })
	n, err := New(*cfg, Deps{NC: d.NC, JS: d.JS, Directory: dir, State: st, Log: d.Log, Metrics: d.Metrics, Tracer: d.Tracer})
	if err != nil {
		return nil, err
	}
	if n.h.Sender != nil {
		d.Health.Add("consumer", obs.Consumer(d.JS, bus.DefaultStream, ports.ConsumerMissedCall, 10000, d.Metrics.ConsumerLag))
	}
	return n, nil
}

// Banner is the line `sipbus notifier` prints before "ready": the id, the
// mail server without its password, the exec rules.
func (n *Notifier) Banner() string {
	smtp := "none"
	if s, ok := n.SMTPServer(); ok {
		smtp = s.String()
	}
	return fmt.Sprintf("  notifier %s: smtp %s, exec rules %d", n.cfg.ID, smtp, len(n.cfg.Exec))
}
