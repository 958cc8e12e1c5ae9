package tm

import (
	"fmt"
	"log/slog"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// LocatorFor returns the Locator that reads the registrar's location
// service and subscriber directory on the Redis of st (the process's
// transaction store: one connection pool for both), and what stops it.
// Lookups are kept in memory while Redis tells of every change
// (location.Tracked: one server, not Cluster). Any other engine is
// refused: an in-memory location service is only visible inside the
// process that holds it, so a tm of its own would never find a binding.
func LocatorFor(st store.Store, log *slog.Logger) (Locator, func() error, error) {
	r, ok := st.(*store.Redis)
	if !ok {
		return nil, nil, fmt.Errorf("tm: location: a shared Redis store is required, not %T", st)
	}
	c, prefix := r.Client()
	loc, stop := location.TrackStore(location.NewRedis(c, prefix), log)
	return NewLocationLocator(loc, subscriber.NewRedis(c, prefix)), stop, nil
}
