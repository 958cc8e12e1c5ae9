package main

import (
	"flag"
	"fmt"

	"github.com/sipbus/sipbus/pkg/service"
)

// addDebugFlag adds --debug-addr: where the process serves Go's profiles
// (/debug/pprof/) for `go tool pprof`, on a loopback address only.
func addDebugFlag(fs *flag.FlagSet) *string {
	return fs.String("debug-addr", "", "serve /debug/pprof/ on this loopback ip:port (off when empty)")
}

// startDebug serves the profiles on addr ("" = off; pkg/service) and
// returns the function that stops the server.
func startDebug(addr string) (func(), error) {
	stop, err := service.StartDebug(addr)
	if err != nil {
		return nil, errUsage{fmt.Errorf("--debug-addr: %w", err)}
	}
	return stop, nil
}
