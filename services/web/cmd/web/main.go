// Command web runs the sipbus web page as its own process against an
// existing NATS server (the event stream) and Redis (the subscriber
// directory, the location service, phonebooks, histories, sessions): the
// deployment shape, as many replicas as wanted behind one address. It is
// `sipbus web`: the same code (web.Spec run by pkg/service), the same
// settings from flags, a YAML file (--config) and SIPBUS_WEB_* variables;
// see the service README.
//
//	web --redis redis://redis:6379 [--nats nats://nats:4222] [--http 0.0.0.0:8080] [--secure-cookies]
//
// SIPBUS_WEB_SECRET (hex, at least 32 bytes, the same on every replica)
// signs the sessions; it is required. --http serves the page beside
// /healthz, /readyz and /metrics; off is refused. The click-to-dial API is
// served by ctd: route /v1/ to it on the same origin. SIGINT or SIGTERM
// stop it.
package main

import (
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/web"
)

func main() { service.Exit(web.Spec) }
