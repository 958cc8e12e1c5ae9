// Package servicetest checks a service's settings against the one shape
// of pkg/service: the table test every service runs (each key reaches the
// same field as a flag, in the YAML file and in the environment, with the
// precedence file < environment < flag) and the README's settings table.
package servicetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/service"
)

// Case is one setting of the table: Value as a flag or variable gives
// Want, read back by Get.
type Case[C any] struct {
	Key   string // the YAML key
	Value string // as on the command line or in the environment: "90s", "a,b"
	// YAML is the value in the file; default Value (a list's items in [ ]).
	YAML string
	// Other is a second valid value, different from Value, for the
	// precedence checks; default: none (the key is not used for them).
	Other string
	Get   func(service.Common, *C) any
	Want  any
}

// Shape runs the table: the common settings (service.Common) are checked
// here for every service; cases must cover every other setting of spec
// that has a flag or a variable; base are settings every load needs (the required
// ones) as key: value, given in the file.
func Shape[C any](t *testing.T, spec service.Spec[C], base map[string]string, cases []Case[C]) {
	t.Helper()
	fields, _ := service.Settings(spec)
	cases = append(commonCases[C](fields), cases...)
	byKey := map[string]service.Field{}
	for _, f := range fields {
		byKey[f.Key] = f
		if f.Help == "" {
			t.Errorf("%s: no help tag", f.Key)
		}
		if f.Env != "" && !strings.HasPrefix(f.Env, "SIPBUS_"+strings.ToUpper(spec.Name)+"_") && !slices.Contains(service.SharedEnv, f.Env) {
			t.Errorf("%s: variable %s is neither SIPBUS_%s_* nor one of the shared ones (service.SharedEnv)", f.Key, f.Env, strings.ToUpper(spec.Name))
		}
	}
	covered := map[string]bool{}
	for _, c := range cases {
		f, ok := byKey[c.Key]
		if !ok {
			t.Errorf("case %q: no such setting", c.Key)
			continue
		}
		covered[c.Key] = true
		t.Run(c.Key, func(t *testing.T) {
			yv := c.YAML
			if yv == "" {
				yv = yamlValue(f, c.Value)
			}
			check := func(how string, args []string, env map[string]string) {
				t.Helper()
				com, cfg, err := service.Load(spec, args, service.IO{Getenv: mapEnv(env), Stderr: &bytes.Buffer{}})
				if err != nil {
					t.Errorf("%s: %v", how, err)
					return
				}
				if got := c.Get(com, &cfg); !reflect.DeepEqual(got, c.Want) {
					t.Errorf("%s: got %#v, want %#v", how, got, c.Want)
				}
			}
			if f.Flag != "" {
				check("flag --"+f.Flag, append([]string{"--config", writeFile(t, base, "", "")}, "--"+f.Flag+"="+c.Value), nil)
			}
			check("file key "+f.Key, []string{"--config", writeFile(t, base, f.Key, yv)}, nil)
			if f.Env != "" {
				check("variable "+f.Env, []string{"--config", writeFile(t, base, "", "")}, map[string]string{f.Env: c.Value})
			}
			if c.Other == "" || f.Env == "" {
				return
			}
			// Precedence: the file says Other, the environment Value: Value.
			check("variable over file", []string{"--config", writeFile(t, base, f.Key, yamlValue(f, c.Other))}, map[string]string{f.Env: c.Value})
			if f.Flag != "" {
				check("flag over variable", []string{"--config", writeFile(t, base, "", ""), "--" + f.Flag + "=" + c.Value}, map[string]string{f.Env: c.Other})
			}
		})
	}
	for _, f := range fields {
		if !f.FileOnly && !covered[f.Key] {
			t.Errorf("setting %q (--%s, %s) has no case in the table", f.Key, f.Flag, f.Env)
		}
	}
	// A key the service does not know is an error naming it and the line.
	_, _, err := service.Load(spec, []string{"--config", writeFile(t, base, "no_such_key", "1")}, service.IO{Getenv: mapEnv(nil), Stderr: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), `"no_such_key"`) || !strings.Contains(err.Error(), ".yaml:") {
		t.Errorf("an unknown key in the file: %v, want an error naming it with its line", err)
	}
	_, _, err = service.Load(spec, []string{"--no-such-flag=1"}, service.IO{Getenv: mapEnv(nil), Stderr: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("an unknown flag: %v, want an error naming it", err)
	}
}

func yamlValue(f service.Field, v string) string {
	if strings.HasPrefix(f.Type, "list") {
		items := strings.Split(v, ",")
		for i, it := range items {
			items[i] = strings.TrimSpace(it)
			if f.Type == "list" {
				items[i] = fmt.Sprintf("%q", items[i])
			}
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	if f.Type == "string" {
		return fmt.Sprintf("%q", v)
	}
	return v
}

func writeFile(t *testing.T, base map[string]string, key, value string) string {
	t.Helper()
	var b strings.Builder
	keys := make([]string, 0, len(base))
	for k := range base {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != key {
			fmt.Fprintf(&b, "%s: %s\n", k, base[k])
		}
	}
	if key != "" {
		fmt.Fprintf(&b, "%s: %s\n", key, value)
	}
	p := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mapEnv is a getenv over env only (nothing of the test process's own
// environment leaks in).
func mapEnv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// Begin and End mark the settings table in a service README.
const (
	Begin = "<!-- settings: generated by `go test` (pkg/service.Table); SIPBUS_UPDATE_README=1 rewrites it -->"
	End   = "<!-- end of settings -->"
)

// Readme checks that the README at path holds spec's settings table
// between Begin and End; with SIPBUS_UPDATE_README=1 it writes it there.
func Readme[C any](t *testing.T, spec service.Spec[C], path string) {
	t.Helper()
	fields, v := service.Settings(spec)
	want := service.Table(fields, v)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i, j := strings.Index(s, Begin), strings.Index(s, End)
	if i < 0 || j < i {
		t.Fatalf("%s: no settings table between %q and %q", path, Begin, End)
	}
	got := strings.TrimSpace(s[i+len(Begin) : j])
	if got == strings.TrimSpace(want) {
		return
	}
	if os.Getenv("SIPBUS_UPDATE_README") == "1" {
		s = s[:i+len(Begin)] + "\n" + want + s[j:]
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: settings table rewritten", path)
		return
	}
	t.Errorf("%s: the settings table is not the code's; run SIPBUS_UPDATE_README=1 go test to rewrite it. Want:\n%s", path, want)
}

// Field reads a setting of a service's own struct, for Case.Get.
func Field[C, T any](f func(*C) T) func(service.Common, *C) any {
	return func(_ service.Common, c *C) any { return f(c) }
}

// Common reads one of the common settings, for Case.Get.
func Common[C, T any](f func(service.Common) T) func(service.Common, *C) any {
	return func(c service.Common, _ *C) any { return f(c) }
}

// ErrCase is a bad setting: Load with Args and Env must fail with a
// service.UsageError whose text holds every Want.
type ErrCase struct {
	Name string
	Args []string
	Env  map[string]string
	Want []string
}

// Errors runs the bad settings of cases against spec.
func Errors[C any](t *testing.T, spec service.Spec[C], cases []ErrCase) {
	t.Helper()
	for _, c := range cases {
		_, _, err := service.Load(spec, c.Args, service.IO{Getenv: mapEnv(c.Env), Stderr: &bytes.Buffer{}})
		var u service.UsageError
		if err == nil || !errors.As(err, &u) {
			t.Errorf("%s: %v, want a usage error", c.Name, err)
			continue
		}
		for _, w := range c.Want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.Name, err, w)
			}
		}
	}
}

// File writes body to a YAML file in a test folder and returns its path.
func File(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// commonCases are the cases of the common settings spec takes (fields):
// every service's table runs them.
func commonCases[C any](fields []service.Field) []Case[C] {
	all := []Case[C]{
		{Key: "nats", Value: "nats://10.0.0.1:4222", Other: "nats://b:4222", Get: Common[C](func(c service.Common) string { return c.NATS }), Want: "nats://10.0.0.1:4222"},
		{Key: "redis", Value: "redis://10.0.0.2:6379/0", Other: "redis://b:6379", Get: Common[C](func(c service.Common) string { return c.Redis }), Want: "redis://10.0.0.2:6379/0"},
		{Key: "stream_replicas", Value: "3", Other: "1", Get: Common[C](func(c service.Common) int { return c.StreamReplicas }), Want: 3},
		{Key: "http", Value: "127.0.0.1:9090", Other: "off", Get: Common[C](func(c service.Common) string { return c.HTTP }), Want: "127.0.0.1:9090"},
		{Key: "log_level", Value: "debug", Other: "warn", Get: Common[C](func(c service.Common) string { return c.LogLevel }), Want: "debug"},
		{Key: "log_format", Value: "text", Other: "json", Get: Common[C](func(c service.Common) string { return c.LogFormat }), Want: "text"},
		{Key: "debug_addr", Value: "127.0.0.1:6060", Other: "127.0.0.1:6061", Get: Common[C](func(c service.Common) string { return c.DebugAddr }), Want: "127.0.0.1:6060"},
		{Key: "shutdown_timeout", Value: "20s", Other: "30s", Get: Common[C](func(c service.Common) time.Duration { return c.Shutdown }), Want: 20 * time.Second},
	}
	var out []Case[C]
	for _, c := range all {
		if slices.ContainsFunc(fields, func(f service.Field) bool { return f.Key == c.Key }) {
			out = append(out, c)
		}
	}
	return out
}
