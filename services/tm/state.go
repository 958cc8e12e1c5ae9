package tm

import (
	"fmt"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// LocatorFor returns the Locator that reads the registrar's location
// service and subscriber directory on the Redis of st (the process's
// transaction store: one connection pool for both). Any other engine is
// refused: an in-memory location service is only visible inside the
// process that holds it, so a tm of its own would never find a binding.
func LocatorFor(st store.Store) (Locator, error) {
	r, ok := st.(*store.Redis)
	if !ok {
		return nil, fmt.Errorf("tm: location: a shared Redis store is required, not %T", st)
	}
	c, prefix := r.Client()
	return NewLocationLocator(location.NewRedis(c, prefix), subscriber.NewRedis(c, prefix)), nil
}
