package ctd_test

import (
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/service/servicetest"
	"github.com/sipbus/sipbus/services/ctd"
)

// get reads a setting for a case (servicetest.Field).
func get[T any](f func(*ctd.Config) T) func(service.Common, *ctd.Config) any {
	return servicetest.Field[ctd.Config](f)
}

// TestSpecShape: every setting of a ctd replica reaches its field as a
// flag, a file key and a variable, with the shared precedence.
func TestSpecShape(t *testing.T) {
	base := map[string]string{"redis": `"redis://127.0.0.1:1"`}
	servicetest.Shape(t, ctd.Spec, base, []servicetest.Case[ctd.Config]{
		{Key: "id", Value: "ctd-2", Other: "ctd-3", Get: get(func(c *ctd.Config) string { return c.ID }), Want: "ctd-2"},
		{Key: "ring_timeout", Value: "20s", Other: "25s", Get: get(func(c *ctd.Config) time.Duration { return c.RingTimeout }), Want: 20 * time.Second},
		{Key: "refer_timeout", Value: "3s", Get: get(func(c *ctd.Config) time.Duration { return c.ReferTimeout }), Want: 3 * time.Second},
		{Key: "notify_timeout", Value: "4s", Get: get(func(c *ctd.Config) time.Duration { return c.NotifyTimeout }), Want: 4 * time.Second},
		{Key: "callee_timeout", Value: "1m", Get: get(func(c *ctd.Config) time.Duration { return c.CalleeTimeout }), Want: time.Minute},
		{Key: "fallback", Value: "486, 501", Other: "603", Get: get(func(c *ctd.Config) []int { return c.Fallback }), Want: []int{486, 501}},
		{Key: "fallback_no_notify", Value: "true", Other: "false", Get: get(func(c *ctd.Config) bool { return c.FallbackNoNotify }), Want: true},
		{Key: "tick", Value: "100ms", Get: get(func(c *ctd.Config) time.Duration { return c.Tick }), Want: 100 * time.Millisecond},
		{Key: "admin_token", Value: "t0ken", Other: "other", Get: get(func(c *ctd.Config) string { return c.AdminToken }), Want: "t0ken"},
	})
	fields, _ := service.Settings(ctd.Spec)
	for _, f := range fields {
		if f.Key == "admin_token" && (f.Flag != "" || f.Env != "SIPBUS_CTD_ADMIN_TOKEN" || !f.Secret) {
			t.Errorf("admin_token: %+v, want a secret without a flag, SIPBUS_CTD_ADMIN_TOKEN", f)
		}
	}
	// An empty list turns the fallback off; an empty id gets a default.
	_, c, err := service.Load(ctd.Spec, []string{"--redis", "redis://x", "--fallback="}, service.IO{Getenv: func(string) string { return "" }})
	if err != nil || len(c.Fallback) != 0 || c.ID == "" {
		t.Errorf("--fallback=: fallback %v id %q err %v, want no fallback and an id", c.Fallback, c.ID, err)
	}
}

// TestReadme: the README's settings table is the code's.
func TestReadme(t *testing.T) { servicetest.Readme(t, ctd.Spec, "README.md") }
