// Command registrar runs one sipbus registrar against an existing NATS
// server (the edges' stream) and Redis: the deployment shape (one
// registrar per pod, as many pods as needed). For a laptop, `sipbus up`
// runs everything in one process instead.
//
//	registrar [--config registrar.yaml] [--KEY VALUE]...
//
// It is `sipbus registrar`: the same code (pkg/service.Main with
// registrar.Spec). Every setting is a key of the YAML file, a flag --key
// and a variable SIPBUS_REGISTRAR_KEY (the shared ones: SIPBUS_NATS_URL,
// SIPBUS_REDIS_URL, SIPBUS_DOMAINS, SIPBUS_AUTH_SECRET); see the Settings
// table of services/registrar/README.md. SIGINT or SIGTERM drain it: the
// command endpoints stop, in-flight REGISTERs finish, published events are
// flushed.
package main

import (
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/registrar"
)

func main() { service.Exit(registrar.Spec) }
