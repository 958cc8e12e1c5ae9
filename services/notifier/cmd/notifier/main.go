// Command notifier runs one sipbus notifier against an existing NATS
// server (the event stream) and Redis (fences, rate limits and the
// subscriber directory): the deployment shape, as many replicas as wanted
// on one durable consumer. It is `sipbus notifier`: the same code
// (notifier.Spec run by pkg/service), the same settings from flags, a YAML
// file (--config; exec rules are set there) and SIPBUS_NOTIFIER_*
// variables; see the service README. For a laptop, `sipbus up --smtp dev`
// runs one inside everything else.
//
//	notifier --redis redis://redis:6379 --smtp smtp://127.0.0.1:1025?tls=none [--config notifier.yaml] [--http ADDR]
//
// SIGINT or SIGTERM drain it: the commands stop, the mails and programs in
// flight finish (within shutdown_timeout), the rest stays in the stream
// for the other replicas.
package main

import (
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/notifier"
)

func main() { service.Exit(notifier.Spec) }
