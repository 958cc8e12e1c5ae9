package events

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/schemas"
)

// Errors of Validate.
var (
	ErrUnknownType = errors.New("events: unknown event type")
	ErrInvalid     = errors.New("events: data does not match schema")
)

// compiled holds every schema of the schemas module, compiled once.
var compiled = sync.OnceValues(compileAll)

type schemaSet struct {
	byURL map[string]*jsonschema.Schema
}

// SchemaFiles lists the schema file names embedded in the schemas module.
func SchemaFiles() ([]string, error) {
	return fs.Glob(schemas.FS, "*.json")
}

func compileAll() (*schemaSet, error) {
	files, err := SchemaFiles()
	if err != nil {
		return nil, fmt.Errorf("events: list schemas: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	// Every $ref resolves inside the embedded files; nothing is fetched.
	c.UseLoader(noLoader{})
	urls := make([]string, 0, len(files)+1)
	for _, f := range files {
		b, err := fs.ReadFile(schemas.FS, f)
		if err != nil {
			return nil, fmt.Errorf("events: read schema %s: %w", f, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("events: schema %s: %w", f, err)
		}
		url := SchemaBase + f
		if id, _ := doc.(map[string]any)["$id"].(string); id != url {
			return nil, fmt.Errorf("events: schema %s: $id %q, want %q", f, id, url)
		}
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("events: schema %s: %w", f, err)
		}
		urls = append(urls, url)
	}
	set := &schemaSet{byURL: make(map[string]*jsonschema.Schema, len(urls))}
	for _, u := range urls {
		sch, err := c.Compile(u)
		if err != nil {
			return nil, fmt.Errorf("events: compile %s: %w", u, err)
		}
		set.byURL[u] = sch
	}
	return set, nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("events: schema %s is not embedded (no remote loading)", url)
}

// LoadSchemas compiles every embedded schema (once) and reports the first
// problem; Validate does it on first use. Services may call it at start-up.
func LoadSchemas() error {
	_, err := compiled()
	return err
}

// Validate checks ev.Data against the schema of ev.Type. An event whose
// dataschema is set must name that schema. It is meant for tests and
// diagnostics (about a millisecond for a SIP message event), not for the
// publish path.
func Validate(ev *bus.Event) error {
	if _, ok := ByType[ev.Type]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownType, ev.Type)
	}
	url := SchemaURL(ev.Type)
	if ev.DataSchema != "" && ev.DataSchema != url {
		return fmt.Errorf("%w: event %s of type %s has dataschema %q, want %q", ErrInvalid, ev.ID, ev.Type, ev.DataSchema, url)
	}
	if err := ValidateData(url, ev.Data); err != nil {
		return fmt.Errorf("event %s: %w", ev.ID, err)
	}
	return nil
}

// ValidateData checks JSON data against the schema at url (a schema $id).
func ValidateData(url string, data []byte) error {
	set, err := compiled()
	if err != nil {
		return err
	}
	sch, ok := set.byURL[url]
	if !ok {
		return fmt.Errorf("%w: no schema %q", ErrUnknownType, url)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %s: data is not JSON: %v", ErrInvalid, shortName(url), err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, shortName(url), err)
	}
	return nil
}

func shortName(url string) string { return strings.TrimPrefix(url, SchemaBase) }
