package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// sharedFor is shared (flags every process of a test takes) as command
// takes them: the edge keeps no state in Redis and refuses --redis.
func sharedFor(command string, shared []string) []string {
	i := slices.Index(shared, "--redis")
	if command != "edge" || i < 0 {
		return shared
	}
	return slices.Delete(slices.Clone(shared), i, i+2)
}

// TestEdgeCommandSettings: `sipbus edge` takes the edge's settings from a
// YAML file, SIPBUS_EDGE_* variables (over the file) and flags (over
// both): the file's id is overridden by the variable, its ws listener
// turned off by the flag; a tls listener on loopback without a
// certificate gets a self-signed one. It prints the sip line, the id and
// the certificate before ready, and stops cleanly on SIGTERM.
func TestEdgeCommandSettings(t *testing.T) {
	ns := testenv.NATS(t)
	udp := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	tls := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	ws := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	file := filepath.Join(t.TempDir(), "edge.yaml")
	yaml := fmt.Sprintf("id: from-file\nudp: %q\ntcp: \"off\"\ntls: %q\nws: %q\nlog_level: warn\n", udp, tls, ws)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIPBUS_NATS_URL", ns.ClientURL())
	t.Setenv("SIPBUS_EDGE_ID", "from-env")
	p := start(t, "edge", "--config", file, "--ws", "off")
	p.waitLine(t, "ready", 30*time.Second)
	out := strings.Join(p.seen, "\n")
	for _, want := range []string{
		"sipbus edge",
		fmt.Sprintf("  sip    udp %s, tcp off, tls %s, ws off, wss off", udp, tls),
		"  edge   from-env",
		"  tls    self-signed certificate for localhost, 127.0.0.1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	p.sigterm(t, "edge", 20*time.Second)
}
