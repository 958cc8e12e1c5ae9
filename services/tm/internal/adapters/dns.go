package adapters

import (
	"context"
	"log/slog"

	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// DNS resolves next hops with pkg/sipdns (RFC 3263): from its cache
// under a partition's lock (Cached), from DNS off it (Resolve, which
// ports.Input runs for app.Lookups). A failed lookup is logged once,
// when it happens, with its name and fault escaped; the resolver caches
// the failure (negative TTL, ErrorTTL), so the calls that meet it in the
// cache meanwhile log nothing.
type DNS struct {
	R   *sipdns.Resolver
	Log *slog.Logger
}

var _ app.DNS = (*DNS)(nil)

// Cached implements app.DNS.
func (d *DNS) Cached(q sipdns.Query) ([]sipdns.Target, error, bool) { return d.R.Cached(q) }

// Resolve resolves q from DNS within the resolver's timeout.
func (d *DNS) Resolve(ctx context.Context, q sipdns.Query) ([]sipdns.Target, error) {
	ts, err := d.R.Resolve(ctx, q)
	if err != nil {
		d.Log.Warn("tm: DNS", "next_hop", q.String(), "err", err.Error())
	}
	return ts, err
}
