package schemadoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// base is the $id prefix of the schema files (events.SchemaBase).
const base = "https://sipbus.dev/schemas/"

// validator checks synthesized examples against the files' schemas.
type validator struct {
	c *jsonschema.Compiler
}

func newValidator(fsys fs.FS, files []string) (*validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	c.UseLoader(noLoader{})
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schemadoc: %s: not JSON: %w", f, err)
		}
		if err := c.AddResource(base+f, doc); err != nil {
			return nil, fmt.Errorf("schemadoc: %s: %w", f, err)
		}
	}
	return &validator{c: c}, nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schemadoc: schema %s is not in schemas/ (no remote loading)", url)
}

// valid is a check of a whole example against file's schema (at fragment);
// a schema that does not compile accepts nothing more than the minimum.
func (v *validator) valid(file, fragment string) func(any) bool {
	sch, err := v.c.Compile(base + file + fragment)
	return func(x any) bool {
		if err != nil {
			return false
		}
		b, err := json.Marshal(x)
		if err != nil {
			return false
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		return err == nil && sch.Validate(doc) == nil
	}
}
