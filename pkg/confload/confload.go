// Package confload loads a service's configuration the way every sipbus
// service does: a YAML file decoded strictly (an unknown key is an error
// with its line), then environment variables named by the struct's env
// tags. Validation stays with each service's Config.
package confload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load overlays *v (already holding the defaults) with the YAML file at
// path (skipped when path is "") and then with the environment (FromEnv
// with os.Getenv). Errors name the file. Load does not validate.
func Load(path string, v any) error {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := Decode(data, path, v); err != nil {
			return err
		}
	}
	return FromEnv(v, nil)
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// Decode decodes one YAML document strictly into v (a pointer): an unknown
// key, a wrong type or a second document is an error, each reading
// "file:line: message". An empty document leaves v as it is.
func Decode(data []byte, file string, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil // an empty file keeps the defaults
	}
	if err == nil {
		var next yaml.Node
		if dec.Decode(&next) == nil {
			return fmt.Errorf("%s:%d: a second YAML document: a config file holds one", file, next.Line)
		}
		return nil
	}
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	errs := make([]error, 0, len(msgs))
	for _, m := range msgs {
		line := "1"
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			line, m = g[1], g[2]
		}
		if g := unknownField.FindStringSubmatch(m); g != nil {
			m = fmt.Sprintf("unknown key %q", g[1])
		}
		errs = append(errs, fmt.Errorf("%s:%s: %s", file, line, m))
	}
	return errors.Join(errs...)
}

// FromEnv overrides the fields of the struct v points to from the
// environment variables named in their env tags. Durations are Go
// durations (500ms, 60s), lists are comma-separated; an empty or unset
// variable changes nothing. getenv nil means os.Getenv. Every value that
// does not parse is reported, naming its variable; a value is quoted in
// the message only when it is not a string field (so a secret never is).
func FromEnv(v any, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		name := rv.Type().Field(i).Tag.Get("env")
		if name == "" {
			continue
		}
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			continue
		}
		switch f := rv.Field(i); {
		case f.Type() == reflect.TypeFor[time.Duration]():
			d, err := time.ParseDuration(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration (like 500ms or 60s)", name, s))
				continue
			}
			f.SetInt(int64(d))
		case f.Kind() == reflect.Int:
			n, err := strconv.Atoi(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not an integer", name, s))
				continue
			}
			f.SetInt(int64(n))
		case f.Kind() == reflect.String:
			f.SetString(s)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf(List(s)))
		default:
			panic("confload: no environment parser for field " + rv.Type().Field(i).Name) // caught by the tests
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: environment: %w", errors.Join(errs...))
	}
	return nil
}

// List splits a comma-separated value (an environment variable, a flag)
// into its trimmed, non-empty items; nil when there are none.
func List(s string) []string {
	var list []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	return list
}
