package adapters

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/mgmt"
)

// Instances lists the running sipbus instances over NATS micro
// (mgmt.Discover, the same round `sipbus ps` makes).
type Instances struct {
	NC   *nats.Conn
	Wait time.Duration // how long to wait for answers (mgmt.DefaultWait when 0)
}

// Instances asks every instance for its stats and returns those that
// answered within Wait.
func (i Instances) Instances(ctx context.Context) ([]mgmt.Found, error) {
	return mgmt.Discover(ctx, i.NC, "", i.Wait)
}
