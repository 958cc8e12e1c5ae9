// Package confload decodes a sipbus YAML config file strictly (an
// unknown key, a wrong type or a second document is an error with its
// line) and splits comma-separated lists; pkg/service builds the settings
// of every service (file, environment, flags) on it.
package confload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

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
