package ports

import (
	"context"
	"log/slog"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
)

// Expiry removes expired bindings and publishes reg.contact.expired for
// each. Every replica may run it: the location service returns each
// expired binding to exactly one caller.
type Expiry struct {
	Store location.Store
	Emit  Emitter
	Every time.Duration // scan interval (Config.ExpiryScan)
	Batch int           // bindings per Expire call; default 256
	Now   func() time.Time
	Log   *slog.Logger
}

// Run scans every Every until ctx ends.
func (x *Expiry) Run(ctx context.Context) {
	tick := time.NewTicker(x.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		x.Scan(ctx)
	}
}

// Scan expires what is due now, in batches, and returns how many bindings
// it expired.
func (x *Expiry) Scan(ctx context.Context) int {
	batch := x.Batch
	if batch <= 0 {
		batch = 256
	}
	total := 0
	for ctx.Err() == nil {
		now := x.Now()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		bs, err := x.Store.Expire(sctx, now, batch)
		cancel()
		total += len(bs)
		if len(bs) > 0 {
			changes := make([]location.Change, len(bs))
			for i, b := range bs {
				changes[i] = location.Change{Kind: location.Expired, Binding: b}
			}
			// The bindings are gone: publish even while shutting down.
			ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := x.Emit.Emit(ectx, changes, now); err != nil {
				x.Log.Warn("registrar: publish expired bindings", "count", len(changes), "err", err)
			}
			cancel()
		}
		if err != nil {
			if ctx.Err() == nil {
				x.Log.Warn("registrar: expire bindings", "err", err)
			}
			break
		}
		if len(bs) < batch {
			break
		}
	}
	return total
}
