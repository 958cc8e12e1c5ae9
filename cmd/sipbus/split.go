package main

import (
	"context"
	"io"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/registrar"
	"github.com/sipbus/sipbus/services/tm"
)

// cmdTM runs one transaction manager as its own process: the tm
// command's code (service.Main with tm.Spec; settings in
// services/tm/README.md).
func cmdTM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return service.Main(ctx, tm.Spec, args, service.IO{Stdout: stdout, Stderr: stderr})
}

// cmdRegistrar runs one registrar as its own process: the registrar
// command's code (service.Main with registrar.Spec; settings in
// services/registrar/README.md).
func cmdRegistrar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return service.Main(ctx, registrar.Spec, args, service.IO{Stdout: stdout, Stderr: stderr})
}
