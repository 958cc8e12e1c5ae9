package schemadoc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/schemadoc"
	"github.com/sipbus/sipbus/schemas"
)

const page = "../../schemas/EVENTS.md"

// TestPageUpToDate fails when the committed schemas/EVENTS.md is not what
// the schemas and the subject constants make now.
func TestPageUpToDate(t *testing.T) {
	want, err := schemadoc.Generate(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(page)
	if err != nil {
		t.Fatalf("%v: generate it with `make schemas-doc`", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("schemas/EVENTS.md is out of date (run `make schemas-doc`); first difference at line %d:\n committed: %q\n generated: %q", i+1, g, w)
		}
	}
}

// TestEveryEntry: every schema file is on the page with a subject; every
// Go type and command of pkg/events has a schema file; each command with a
// route from the Go constants has a description naming that subject, so
// schema and code agree.
func TestEveryEntry(t *testing.T) {
	es, err := schemadoc.Entries(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(schemas.FS, "*.json")
	if len(es) != len(files) || len(es) == 0 {
		t.Fatalf("%d entries for %d schema files", len(es), len(files))
	}
	byName := map[string]schemadoc.Entry{}
	for _, e := range es {
		byName[e.Name] = e
		if len(e.Route.Subjects) == 0 {
			t.Errorf("%s: no subject", e.Name)
		}
		for _, s := range e.Route.Subjects {
			if strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") && !strings.Contains(s, "<") {
				t.Errorf("%s: subject %q: a placeholder was not filled", e.Name, s)
			}
		}
	}
	for name := range events.ByType {
		e, ok := byName[name]
		switch {
		case !ok:
			t.Errorf("%s: a Go type but no schema file", name)
		case e.FromDesc:
			// A type merged from another branch: its subject is quoted
			// from its description (non-empty, checked above) until
			// Routes names its constant.
			t.Logf("%s: no route in pkg/schemadoc Routes; the page quotes the subject from the description", name)
		case e.Route.Kind == schemadoc.KindCommand && !strings.Contains(e.Description, e.Route.Subjects[0]):
			t.Errorf("%s: the description does not name the subject %s", name, e.Route.Subjects[0])
		}
	}
	for name := range schemadoc.Routes() {
		if _, ok := byName[name]; !ok {
			t.Errorf("Routes has %s, but schemas/ has no %s.json", name, name)
		}
	}
}

// TestExamplesValidate: every example on the page (request, event data,
// reply) is valid against its schema.
func TestExamplesValidate(t *testing.T) {
	es, err := schemadoc.Entries(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	for _, e := range es {
		b, _ := fs.ReadFile(schemas.FS, e.File)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(events.SchemaBase+e.File, doc); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name, url string, data []byte) {
		t.Helper()
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s: the example is not valid: %v\n%s", name, err, data)
		}
	}
	for _, e := range es {
		// Every example a schema holds, not only the first (the page's).
		b, _ := fs.ReadFile(schemas.FS, e.File)
		var root struct {
			Examples []json.RawMessage `json:"examples"`
			Defs     struct {
				Response struct {
					Examples []json.RawMessage `json:"examples"`
				} `json:"response"`
			} `json:"$defs"`
		}
		if err := json.Unmarshal(b, &root); err != nil {
			t.Fatal(err)
		}
		for i, x := range root.Examples {
			check(fmt.Sprintf("%s examples[%d]", e.Name, i), events.SchemaBase+e.File, x)
		}
		for i, x := range root.Defs.Response.Examples {
			check(fmt.Sprintf("%s response examples[%d]", e.Name, i), events.SchemaBase+e.File+"#/$defs/response", x)
		}
		check(e.Name, events.SchemaBase+e.File, e.Example)
		if e.Route.Kind == schemadoc.KindCommand {
			if len(e.Reply) == 0 {
				t.Errorf("%s: a command without an example reply", e.Name)
				continue
			}
			check(e.Name+" reply", events.SchemaBase+e.File+"#/$defs/response", e.Reply)
		}
	}
}

// TestNewSchemaWithoutConstant: a schema file the Go code does not know
// yet (one from another branch) still gets its row, the subject and queue
// group quoted from its description and marked so; its own "examples" win
// over synthesis; text that looks like HTML is escaped.
func TestNewSchemaWithoutConstant(t *testing.T) {
	fsys := fstest.MapFS{
		"sipbus.demo.progress.v1.json": {Data: []byte(`{"title": "Click-to-dial progress",
			"description": "Data of CloudEvent type sipbus.demo.progress.v1. Subject demo.progress.<id>.",
			"type": "object", "properties": {"state": {"type": "string", "examples": ["ringing"]}, "n": {"type": "integer", "minimum": 3}}}`)},
		"sipbus.demo.call.v1.json": {Data: []byte(`{"description": "Command sipbus.demo.call.v1 (NATS request/reply on subject sipbus.demo.call, queue group sipbus-demo; not a stream event).",
			"$ref": "#/$defs/request", "$defs": {"request": {"type": "object", "required": ["from"], "properties": {"from": {"type": "string"}}},
			"response": {"type": "object", "properties": {"status": {"type": "integer"}}}}}`)},
	}
	es, err := schemadoc.Entries(fsys)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]schemadoc.Entry{}
	for _, e := range es {
		got[e.Name] = e
	}
	ev, cmd := got["sipbus.demo.progress.v1"], got["sipbus.demo.call.v1"]
	if !ev.FromDesc || ev.Route.Kind != schemadoc.KindEvent || strings.Join(ev.Route.Subjects, ",") != "demo.progress.<id>" {
		t.Errorf("event: %+v", ev)
	}
	if string(ev.Example) != `{"n":200,"state":"ringing"}` {
		t.Errorf("event example %s", ev.Example)
	}
	if cmd.Route.Kind != schemadoc.KindCommand || strings.Join(cmd.Route.Subjects, ",") != "sipbus.demo.call" || cmd.Route.QueueGroup != "sipbus-demo" {
		t.Errorf("command: %+v", cmd.Route)
	}
	if string(cmd.Example) != `{"from":"sip:alice@example.com"}` || string(cmd.Reply) != `{"status":200}` {
		t.Errorf("command example %s reply %s", cmd.Example, cmd.Reply)
	}
	b, err := schemadoc.Generate(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject demo.progress.&lt;id&gt;.", "| `demo.progress.<id>` (from the schema's description) |", "- queue group: `sipbus-demo`"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("page lacks %q:\n%s", want, b)
		}
	}
}

// TestBadSchema: a file that is not JSON is an error naming it.
func TestBadSchema(t *testing.T) {
	_, err := schemadoc.Generate(fstest.MapFS{"sipbus.x.v1.json": {Data: []byte("{not json")}})
	if err == nil || !strings.Contains(err.Error(), "sipbus.x.v1.json") {
		t.Fatalf("err = %v, want one naming sipbus.x.v1.json", err)
	}
}
