package config

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

// Load returns Default() overlaid with the YAML file at path (skipped when
// path is "") and then with the environment (FromEnv with os.Getenv). The
// file is decoded strictly: an unknown key is an error naming its line.
// Errors name the file. Load does not validate.
func Load(path string) (Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := decode(data, path, &c); err != nil {
			return c, err
		}
	}
	if err := c.FromEnv(nil); err != nil {
		return c, err
	}
	return c, nil
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// decode decodes one YAML document strictly into c; each error reads
// "file:line: message".
func decode(data []byte, file string, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
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

// FromEnv overrides the fields of c from the environment variables named
// in their env tags: SIPBUS_REGISTRAR_ID, SIPBUS_NATS_URL, REDIS_URL,
// SIPBUS_DOMAINS (a comma-separated list), SIPBUS_REGISTRAR_AUTH,
// SIPBUS_AUTH_SECRET, SIPBUS_REGISTRAR_AUTH_ALGORITHMS (a comma-separated
// list), SIPBUS_REGISTRAR_NONCE_TTL, SIPBUS_REGISTRAR_MIN_EXPIRES,
// SIPBUS_REGISTRAR_MAX_EXPIRES, SIPBUS_REGISTRAR_DEFAULT_EXPIRES (Go
// durations such as 60s), SIPBUS_REGISTRAR_MAX_CONTACTS,
// SIPBUS_REGISTRAR_EXPIRY_SCAN and SIPBUS_REGISTRAR_WORKERS. An empty or
// unset variable changes nothing. getenv nil means os.Getenv. Every value
// that does not parse is reported, naming its variable (never quoting the
// secret).
func (c *Config) FromEnv(getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("env")
		if name == "" {
			continue
		}
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			continue
		}
		switch f := v.Field(i); {
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
			var list []string
			for p := range strings.SplitSeq(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					list = append(list, p)
				}
			}
			f.Set(reflect.ValueOf(list))
		default:
			panic("config: no environment parser for field " + v.Type().Field(i).Name) // caught by the tests
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: environment: %w", errors.Join(errs...))
	}
	return nil
}
