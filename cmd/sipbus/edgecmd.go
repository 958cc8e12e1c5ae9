package main

import (
	"context"
	"io"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/edge"
)

// cmdEdge runs one edge as its own process: the same code as the edge's
// own main (services/edge/cmd/edge), service.Main with edge.Spec. Its
// settings are the edge's keys (--udp, --tcp, --tls, --ws, --wss,
// --tls-cert, --flood-limit, ...; services/edge/README.md, "Settings");
// `sipbus up` keeps --sip and the listeners it derives (edgeflags.go).
func cmdEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return service.Main(ctx, edge.Spec, args, service.IO{Stdout: stdout, Stderr: stderr})
}
