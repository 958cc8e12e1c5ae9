// Command ctd runs one click-to-dial replica as its own process against an
// existing NATS server and Redis (call state and API tokens are in Redis,
// shared by every replica): the deployment shape. It is `sipbus ctd
// serve`: the same code (ctd.Spec run by pkg/service), the same settings
// from flags, a YAML file (--config) and SIPBUS_CTD_* variables; see the
// service README.
//
//	ctd --redis redis://redis:6379 [--nats nats://nats:4222] [--http 0.0.0.0:8080] [--refer-timeout 32s]
//
// --http serves the API under /v1/calls beside /healthz, /readyz and
// /metrics; off is refused. SIPBUS_CTD_ADMIN_TOKEN (a secret: no flag) is
// an operator token. SIGINT or SIGTERM make /readyz fail, then drain it.
package main

import (
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/ctd"
)

func main() { service.Exit(ctd.Spec) }
