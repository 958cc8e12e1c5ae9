package tm

import (
	"context"
	"fmt"
	"strings"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// OpenLocator opens the registrar's location service and subscriber
// directory named by url (the same Redis URL the registrar uses, every
// form store.Open accepts) and returns the Locator tm reads them through,
// with the function that closes its client. An empty or memory:// URL is
// refused: an in-memory location service is only visible inside the
// process that holds it, so a tm of its own would never find a binding.
func OpenLocator(ctx context.Context, url string) (Locator, func() error, error) {
	url = strings.TrimSpace(url)
	if url == "" || strings.HasPrefix(url, "memory:") {
		return nil, nil, fmt.Errorf("tm: location: a shared Redis URL is required, not %q", url)
	}
	c, prefix, err := store.OpenRedisClient(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("tm: location: %w", err)
	}
	return NewLocationLocator(location.NewRedis(c, prefix), subscriber.NewRedis(c, prefix)), c.Close, nil
}
