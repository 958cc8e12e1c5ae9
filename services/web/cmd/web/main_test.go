package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestConfigErrors: bad settings stop the start-up naming the key.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "SIPBUS_WEB_SECRET: required"},
		{nil, map[string]string{"SIPBUS_WEB_SECRET": "abcd"}, "SIPBUS_WEB_SECRET"},
		{nil, map[string]string{"SIPBUS_WEB_SECRET": strings.Repeat("ab", 32)}, "-redis (REDIS_URL): required"},
		{[]string{"-log-level", "loud"}, nil, "-log-level"},
		{[]string{"-redis", "redis://127.0.0.1:1", "extra"}, nil, `unexpected argument "extra"`},
	} {
		err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%v, %v) = %v, want an error with %q", tc.args, tc.env, err, tc.want)
		}
	}
}
