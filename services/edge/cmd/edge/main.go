// Command edge runs one sipbus SIP edge against an existing NATS server:
// the deployment shape (one edge per pod). The edge needs no Redis. For a
// laptop, `sipbus up` runs everything in one process instead.
//
//	edge [--config edge.yaml] [--KEY VALUE]...
//
// It is the same code as `sipbus edge` (service.Main with edge.Spec):
// every setting is a key of the YAML file, a flag and a SIPBUS_EDGE_*
// variable (SIPBUS_NATS_URL names the server); see services/edge/README.md,
// "Settings". --http serves /healthz, /readyz (NATS connected, the stream
// present) and /metrics. On SIGTERM the edge drains: new dialogs get 503
// "Shutting Down", what had started finishes, then it exits.
package main

import (
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/edge"
)

func main() { service.Exit(edge.Spec) }
