package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/service/servicetest"
	"github.com/sipbus/sipbus/services/web"
)

type webCase = servicetest.Case[web.Config]

// get reads a setting for a case (servicetest.Field).
func get[T any](f func(*web.Config) T) func(service.Common, *web.Config) any {
	return servicetest.Field[web.Config](f)
}

// TestSpecShape: every setting of the web page reaches its field as a
// flag, a file key and a variable, with the shared precedence.
func TestSpecShape(t *testing.T) {
	key := strings.Repeat("ab", 32)
	base := map[string]string{"redis": `"redis://127.0.0.1:1"`, "secret": `"` + strings.Repeat("01", 32) + `"`}
	servicetest.Shape(t, web.Spec, base, []webCase{
		{Key: "id", Value: "web-2", Other: "web-3", Get: get(func(c *web.Config) string { return c.ID }), Want: "web-2"},
		{Key: "secret", Value: key, Other: strings.Repeat("cd", 40), Get: get(func(c *web.Config) []byte { return c.SessionKey }), Want: []byte(strings.Repeat("\xab", 32))},
		{Key: "session_ttl", Value: "2h", Other: "3h", Get: get(func(c *web.Config) time.Duration { return c.SessionTTL }), Want: 2 * time.Hour},
		{Key: "secure_cookies", Value: "true", Other: "false", Get: get(func(c *web.Config) bool { return c.SecureCookies }), Want: true},
		{Key: "domains", Value: "a.example, b.example", Other: "c.example", Get: get(func(c *web.Config) []string { return c.Domains }), Want: []string{"a.example", "b.example"}},
		{Key: "history_len", Value: "50", Other: "60", Get: get(func(c *web.Config) int { return c.HistoryLen }), Want: 50},
		{Key: "history_ttl", Value: "48h", Get: get(func(c *web.Config) time.Duration { return c.HistoryTTL }), Want: 48 * time.Hour},
		{Key: "phonebook_max", Value: "10", Get: get(func(c *web.Config) int { return c.PhonebookMax }), Want: 10},
		{Key: "lockout_failures", Value: "3", Get: get(func(c *web.Config) int { return c.LockoutFailures }), Want: 3},
		{Key: "lockout_source_failures", Value: "9", Get: get(func(c *web.Config) int { return c.LockoutSourceFailures }), Want: 9},
		{Key: "lockout_window", Value: "5m", Get: get(func(c *web.Config) time.Duration { return c.LockoutWindow }), Want: 5 * time.Minute},
		{Key: "lockout_block", Value: "1h", Get: get(func(c *web.Config) time.Duration { return c.LockoutBlock }), Want: time.Hour},
		{Key: "consumer", Value: "web-h2", Get: get(func(c *web.Config) string { return c.Consumer }), Want: "web-h2"},
	})
	fields, _ := service.Settings(web.Spec)
	for _, f := range fields {
		if f.Key == "secret" && (f.Flag != "" || f.Env != "SIPBUS_WEB_SECRET" || !f.Secret) {
			t.Errorf("secret: %+v, want no flag, SIPBUS_WEB_SECRET, secret", f)
		}
		if f.Key == "domains" && f.Env != "SIPBUS_DOMAINS" {
			t.Errorf("domains: %s, want the shared SIPBUS_DOMAINS", f.Env)
		}
	}
}

// TestReadme: the README's settings table is the code's.
func TestReadme(t *testing.T) { servicetest.Readme(t, web.Spec, "README.md") }
