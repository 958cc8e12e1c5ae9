// Package registrar is the sipbus registrar service: REGISTER (RFC 3261
// §10.3) with digest authentication (RFC 3261 §22, RFC 7616, RFC 8760)
// against the subscriber directory, the location service (the heir of
// Kamailio's usrloc) and the management commands that replace the FIFO's
// ul_* and serctl's add/passwd/rm.
//
// The registrar keeps no state in its process but a short memory of its
// replies. It takes the edges' REGISTER events on a core NATS queue
// subscription (each to one replica), decides with internal/app (pure),
// applies the result to the location service (pkg/location, one atomic
// script per REGISTER on Redis), answers through the edge the REGISTER came
// in on (a published message, pkg/edgeapi) with the server transaction's
// key (so the edge answers retransmissions), and publishes
// reg.contact.added|refreshed|removed|expired.<p> events
// (schemas/sipbus.reg.contact.*.v1.json). Subscribers live in
// pkg/subscriber, digest nonce-counts and counts of failed
// authentications in pkg/digest's counters, all on one Redis (OpenState).
// Management commands are a nats.go/micro service whose contract is
// pkg/regapi.
//
// As its own process (`sipbus registrar`, cmd/registrar) it runs in the
// one service shape: service.Main(ctx, registrar.Spec, args, ...) loads
// its settings (Config and the common ones), connects, serves
// /healthz, /readyz and /metrics and drains on SIGTERM. Wired by hand, as
// `sipbus up` does it:
//
//	state, closeState, err := registrar.OpenState(ctx, redisURL)
//	...
//	defer closeState()
//	r, err := registrar.New(cfg, registrar.Deps{NC: nc, JS: js, State: state, Log: log})
//	...
//	err = r.Start(ctx) // then, when stopping: r.Shutdown(ctx) drains
//
// The stream must exist (bus.EnsureStream). tm reads the same location
// service and directory (tm.NewLocationLocator(state.Location,
// state.Directory)).
//
// The decisions (403 for too many contacts, 200 with the current bindings
// for an out-of-order REGISTER, what is told before and after
// authentication, idempotence under redelivery) are listed in README.md;
// the settings in its Settings table.
package registrar
