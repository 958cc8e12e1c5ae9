package ports

import (
	"context"
	"net/http"
	"time"

	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/mgmt"
)

// Instances lists the running service instances (mgmt.Discover: the ones
// that answer $SRV.STATS within the wait, as `sipbus ps` shows them).
type Instances interface {
	Instances(ctx context.Context) ([]mgmt.Found, error)
}

// instanceRow is one line of the admin's services table.
type instanceRow struct {
	mgmt.Found
	Uptime time.Duration
}

// adminServices is the admin's `sipbus ps`: every running instance with
// its version, host, uptime, in-flight work and last error.
func (s *Server) adminServices(w http.ResponseWriter, r *http.Request) {
	if s.Instances == nil {
		s.fail(w, r, http.StatusNotFound, "", "this web service has no NATS connection to list services with")
		return
	}
	found, err := s.Instances.Instances(r.Context())
	if err != nil && err != mgmt.ErrNoInstances {
		s.Log.Warn("web: list services", "err", err)
		s.fail(w, r, http.StatusBadGateway, "", "listing the services failed")
		return
	}
	now := s.Now()
	rows := make([]instanceRow, len(found))
	for i, f := range found {
		rows[i] = instanceRow{Found: f, Uptime: f.Uptime(now).Truncate(time.Second)}
	}
	if wantsJSON(r) {
		httpfront.JSON(w, http.StatusOK, found)
		return
	}
	s.render(w, http.StatusOK, "services.html", map[string]any{"Me": session(r), "Rows": rows})
}
