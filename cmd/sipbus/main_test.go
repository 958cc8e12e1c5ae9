package main

import (
	"os"
	"testing"
)

// TestMain clears the servers a developer's shell may name, so that no
// test reaches them by accident: a test that wants a variable sets it
// with t.Setenv, and the commands it starts inherit it.
func TestMain(m *testing.M) {
	for _, k := range []string{"SIPBUS_NATS_URL", "SIPBUS_REDIS_URL", "NATS_URL", "REDIS_URL"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}
