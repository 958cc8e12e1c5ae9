// Package obs is what every sipbus process serves about itself on its HTTP
// address (pkg/httpfront): /healthz (the process is alive: httpfront's
// own), /readyz (it can do its work: NATS and Redis reachable, the JetStream
// stream present, its consumer keeping up) and /metrics (Prometheus text
// format, github.com/prometheus/client_golang).
//
// Design decisions:
//   - Readiness runs every check at each request, concurrently, each
//     bounded by CheckTimeout; nothing is cached, so a Redis that stops is
//     seen at the next probe and one that returns likewise. The answer is
//     200 "ok" or 503 with JSON {"error", "checks"} naming each failing
//     check (the shape of httpfront.Error, with the detail per check).
//   - Drain (SIGTERM) flips readiness to 503 at once, before listeners
//     stop, so a Service stops sending new work while in-flight work ends.
//   - Metrics on hot paths stay atomic counters the services already keep;
//     the Prometheus collectors here read them at scrape time (no
//     per-message allocation, no lock). Histograms (round trips) are
//     observed off the hot path, by the readiness checks and scrapes.
//   - Names follow Prometheus conventions: sipbus_ prefix, _total for
//     counters, _seconds for durations, base units.
package obs
