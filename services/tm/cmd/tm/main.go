// Command tm runs one sipbus transaction manager replica against an
// existing NATS server and Redis: the deployment shape (one replica per
// pod, any number of them). For a laptop, `sipbus up` runs everything in
// one process instead.
//
//	tm [--config tm.yaml] [--KEY VALUE]...
//
// It is `sipbus tm`: the same code (pkg/service.Main with tm.Spec). Every
// setting is a key of the YAML file, a flag --key and a variable
// SIPBUS_TM_KEY (the shared ones: SIPBUS_NATS_URL, SIPBUS_REDIS_URL,
// SIPBUS_DOMAINS, SIPBUS_FLOW_SECRET); see the Settings table of
// services/tm/README.md. SIGINT or SIGTERM hand the replica's work over to
// the others.
package main

import (
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/tm"
)

func main() { service.Exit(tm.Spec) }
