// Package mgmt is sipbus's management plane (the heir of serctl's and
// kamcmd's ps, uptime, which and stats): every service instance (edge, tm,
// registrar, notifier, and any application) is a nats.go/micro service,
// so it answers the standard $SRV.PING, $SRV.INFO and $SRV.STATS subjects,
// and the `nats micro ls|info|stats` commands of the nats CLI see the same
// instances as `sipbus ps`.
//
// # What an instance says about itself
//
// Instance.Config fills a micro.Config: the version (Version), and the
// metadata every sipbus instance carries:
//
//	sipbus_service  the short service name: edge, tm, registrar, notifier
//	sipbus_id       the instance's own id (tm-edge-host, registrar-..., ...)
//	host            os.Hostname()
//	pid             the process id
//	started         the start time, RFC 3339 with nanoseconds, UTC
//
// and a StatsHandler whose data (on every endpoint of the STATS reply) is
// Status: in_flight (the work the instance holds now: the transactions a
// tm or an edge keeps, the REGISTERs queued or running in a registrar, the
// events a notifier handles) and last_error (the latest record the
// service logged at level Error, or at Warn with an err attribute, with its time; Instance.Handler wraps the
// service's slog handler to see it), plus the service's own counters.
// Each endpoint also names its request schema in its metadata ("schema":
// the $id of the JSON Schema in schemas/), which `sipbus which` lists.
//
// # Liveness: no heartbeat, a ping
//
// micro has no heartbeat, and sipbus adds none for management: Discover
// sends one $SRV.STATS request and lists the instances that answer within
// its wait (default 1 s, the "heartbeat interval" of `sipbus ps`). An
// instance that died is gone from the next listing: its subscriptions end
// with its connection (at once when the process is killed, since the
// kernel closes the socket; after the server's ping interval when the host
// vanished, but a vanished host never answers a request, so it is not
// listed either). What `ps` shows is therefore always who answered now,
// never a cached registry that could hold the dead. The services' own
// beats (package bus, sipbus.beat.>) carry load, not management.
package mgmt
