package schemas_test

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/schemas"
)

// TestFiles checks what this module can check without dependencies: every
// file is JSON, declares draft 2020-12 and has the $id its name gives it.
// Compiling and validating against the schemas is tested in pkg/events, which
// has a JSON Schema implementation.
func TestFiles(t *testing.T) {
	files, err := fs.Glob(schemas.FS, "*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded schemas: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := fs.ReadFile(schemas.FS, f)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Schema      string `json:"$schema"`
				ID          string `json:"$id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema %q", doc.Schema)
			}
			if want := "https://sipbus.dev/schemas/" + f; doc.ID != want {
				t.Errorf("$id %q, want %q", doc.ID, want)
			}
			if !strings.HasPrefix(f, "sipbus.") || !strings.Contains(f, ".v") {
				t.Errorf("file name %q is not sipbus.<area>.<name>.v<N>.json", f)
			}
			if doc.Title == "" || doc.Description == "" {
				t.Error("title and description are required")
			}
		})
	}
}
