package regapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/schemas"
)

var when = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func q(v float64) *float64 { return &v }

func str(s string) *string { return &s }

func boolp(b bool) *bool { return &b }

var (
	alice = regapi.User{AOR: "alice@example.com", Name: "Alice Ä", Email: "alice@example.com", Enabled: true, Created: when, Updated: when,
		MissedCallEmail: true, TZ: "Europe/Paris"}
	binding = regapi.Binding{Contact: "sip:alice@192.0.2.4:5060", Q: 0.5, Expires: 3600, ExpiresAt: when.Add(time.Hour),
		CallID: "c@h", CSeq: 7, Path: []string{"<sip:edge1.example.com;lr>"}, Received: "udp:198.51.100.7:40000",
		Transport: "udp", UserAgent: "Phone/1.0", Edge: "edge-1"}
	gateway = regapi.Binding{Contact: "sip:gw@192.0.2.9", Q: 1, Permanent: true, CallID: "ul-add-x", CSeq: 1}
	bound   = regapi.AORBindings{AOR: "alice@example.com", Bindings: []regapi.Binding{binding, gateway}}
	okReply = regapi.Reply{Status: 200, Reason: "OK"}
)

// samples are a filled request and reply of every command.
var samples = []struct {
	command  string
	req, rep any
}{
	{events.CommandRegistrarUserAdd, &regapi.UserAddRequest{AOR: "sip:alice@example.com", Password: "s3cret-pw", Email: "alice@example.com", Name: "Alice", MissedCallEmail: boolp(true), TZ: "Europe/Paris"},
		&regapi.UserReply{Reply: okReply, User: &alice}},
	{events.CommandRegistrarUserPasswd, &regapi.UserPasswdRequest{AOR: "alice@example.com", Password: "n3w-secret"},
		&regapi.UserReply{Reply: okReply, User: &alice}},
	{events.CommandRegistrarUserRemove, &regapi.UserRemoveRequest{AOR: "alice@example.com"}, &okReply},
	{events.CommandRegistrarUserSet, &regapi.UserSetRequest{AOR: "alice@example.com", Email: str(""), Name: str("Alice"),
		MissedCallEmail: boolp(false), TZ: str("Europe/Paris")}, &regapi.UserReply{Reply: okReply, User: &alice}},
	{events.CommandRegistrarUserList, &regapi.UserListRequest{Cursor: "a@example.com", Limit: 10},
		&regapi.UserListReply{Reply: okReply, Users: []regapi.User{alice}, Next: "alice@example.com"}},
	{events.CommandRegistrarULShow, &regapi.ULShowRequest{AOR: "alice@example.com"}, &regapi.ULShowReply{Reply: okReply, AORBindings: bound}},
	{events.CommandRegistrarULAdd, &regapi.ULAddRequest{AOR: "alice@example.com", Contact: "sip:gw@192.0.2.9", Expires: 0, Q: q(0.5)},
		&regapi.ULShowReply{Reply: okReply, AORBindings: bound}},
	{events.CommandRegistrarULRemove, &regapi.ULRemoveRequest{AOR: "alice@example.com", Contact: "sip:gw@192.0.2.9"},
		&regapi.ULShowReply{Reply: okReply, AORBindings: regapi.AORBindings{AOR: "alice@example.com", Bindings: []regapi.Binding{}}}},
	{events.CommandRegistrarULDump, &regapi.ULDumpRequest{Cursor: "a@example.com", Limit: 2},
		&regapi.ULDumpReply{Reply: okReply, AORs: []regapi.AORBindings{bound}, Next: "alice@example.com"}},
}

// TestSchemas: every request and reply validates against its schema file
// (request at the top level, reply under #/$defs/response), declares no
// property the schema lacks, and round-trips.
func TestSchemas(t *testing.T) {
	for _, s := range samples {
		t.Run(s.command, func(t *testing.T) {
			mk, ok := events.ByType[s.command]
			if !ok {
				t.Fatalf("events.ByType has no %s", s.command)
			}
			if got, want := reflect.TypeOf(mk()), reflect.TypeOf(s.req); got != want {
				t.Errorf("ByType gives %v, the request is %v", got, want)
			}
			for _, half := range []struct {
				url string
				v   any
			}{{events.SchemaURL(s.command), s.req}, {events.SchemaURL(s.command) + "#/$defs/response", s.rep}} {
				b, err := json.Marshal(half.v)
				if err != nil {
					t.Fatal(err)
				}
				if err := validate(t, half.url, b); err != nil {
					t.Errorf("%s\n%s", err, b)
				}
				checkDeclared(t, half.url, b)
				back := reflect.New(reflect.TypeOf(half.v).Elem()).Interface()
				if err := json.Unmarshal(b, back); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back, half.v) {
					t.Errorf("round trip differs:\n got %+v\nwant %+v", back, half.v)
				}
			}
			// An error reply is status and reason only.
			b, _ := json.Marshal(regapi.Reply{Status: 404, Reason: `aor: no subscriber "bob@example.com"`})
			if err := validate(t, events.SchemaURL(s.command)+"#/$defs/response", b); err != nil {
				t.Errorf("error reply: %v", err)
			}
		})
	}
}

func TestSchemasReject(t *testing.T) {
	tests := []struct {
		name, command, data string
	}{
		{"user add without password", events.CommandRegistrarUserAdd, `{"aor":"alice@example.com"}`},
		{"user add short password", events.CommandRegistrarUserAdd, `{"aor":"alice@example.com","password":"123"}`},
		{"ul add negative expires", events.CommandRegistrarULAdd, `{"aor":"a@b","contact":"sip:a@b","expires":-1}`},
		{"ul add q above 1", events.CommandRegistrarULAdd, `{"aor":"a@b","contact":"sip:a@b","expires":0,"q":1.5}`},
		{"ul show without aor", events.CommandRegistrarULShow, `{}`},
		{"dump negative limit", events.CommandRegistrarULDump, `{"limit":-1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := events.ValidateData(events.SchemaURL(tc.command), []byte(tc.data)); !errors.Is(err, events.ErrInvalid) {
				t.Errorf("ValidateData = %v, want ErrInvalid", err)
			}
			if err := validate(t, events.SchemaURL(tc.command), []byte(tc.data)); err == nil {
				t.Error("validate = nil, want an error")
			}
		})
	}
}

// TestSharedDefs: the copies of #/$defs/user and #/$defs/binding in the
// registrar's schema files are identical.
func TestSharedDefs(t *testing.T) {
	seen := map[string][]byte{}
	seenIn := map[string]string{}
	for _, s := range samples {
		file := s.command + ".json"
		b, err := schemas.FS.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Defs map[string]json.RawMessage `json:"$defs"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"user", "binding"} {
			def, ok := doc.Defs[name]
			if !ok {
				continue
			}
			var v any
			_ = json.Unmarshal(def, &v)
			canon, _ := json.Marshal(v)
			if prev, ok := seen[name]; ok && !bytes.Equal(prev, canon) {
				t.Errorf("$defs/%s of %s differs from %s", name, file, seenIn[name])
			}
			seen[name], seenIn[name] = canon, file
		}
	}
	if len(seen) != 2 {
		t.Errorf("found shared defs %v", seenIn)
	}
}

// TestPasswordsNeverPrinted: fmt and slog print requests without their
// password; JSON (the wire) carries it.
func TestPasswordsNeverPrinted(t *testing.T) {
	const pw = "correct-horse-battery"
	add := regapi.UserAddRequest{AOR: "alice@example.com", Password: pw, Name: "Alice"}
	passwd := regapi.UserPasswdRequest{AOR: "alice@example.com", Password: pw}
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("add", "req", add, "ptr", &add)
	log.Info("passwd", "req", passwd)
	outs := []string{logged.String()}
	for _, v := range []any{add, &add, passwd, &passwd} {
		outs = append(outs, fmt.Sprint(v), fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v))
	}
	for _, out := range outs {
		if strings.Contains(out, pw) {
			t.Errorf("password printed: %s", out)
		}
		if !strings.Contains(out, "alice@example.com") {
			t.Errorf("AOR not printed: %s", out)
		}
	}
	if b, _ := json.Marshal(add); !strings.Contains(string(b), pw) {
		t.Errorf("JSON lacks the password: %s", b)
	}
}

func TestError(t *testing.T) {
	err := error(&regapi.Error{Reply: regapi.Reply{Status: 409, Reason: `aor: "alice@example.com" already exists`}})
	if got := err.Error(); got != `registrar: 409 aor: "alice@example.com" already exists` {
		t.Errorf("Error() = %q", got)
	}
}

// TestClient runs the client against a stand-in registrar on a real NATS
// server.
func TestClient(t *testing.T) {
	srv := testenv.NATS(t)
	nc, _ := testenv.Connect(t, srv.ClientURL())
	ctx := testenv.Context(t, 20*time.Second)
	c := &regapi.Client{NC: nc, Timeout: 2 * time.Second}

	// Nobody answers.
	if rep, err := c.ULShow(ctx, regapi.ULShowRequest{AOR: "alice@example.com"}); rep != nil || !errors.Is(err, regapi.ErrNoRegistrar) {
		t.Fatalf("no registrar: %v, %v; want ErrNoRegistrar", rep, err)
	}

	got := make(chan []byte, 8)
	answer := func(subject string, reply any) {
		sub, err := nc.QueueSubscribe(subject, regapi.QueueGroup, func(m *nats.Msg) {
			got <- m.Data
			b, _ := json.Marshal(reply)
			_ = m.Respond(b)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	answer(regapi.SubjectULShow, regapi.ULShowReply{Reply: okReply, AORBindings: bound})
	answer(regapi.SubjectUserAdd, regapi.Reply{Status: 409, Reason: `aor: "alice@example.com" already exists`})
	answer(regapi.SubjectUserRemove, regapi.Reply{Status: 404, Reason: `aor: no subscriber "bob@example.com"`})
	answer(regapi.SubjectULDump, regapi.ULDumpReply{Reply: okReply, AORs: []regapi.AORBindings{bound}})

	show, err := c.ULShow(ctx, regapi.ULShowRequest{AOR: "alice@example.com"})
	if err != nil || !reflect.DeepEqual(show.AORBindings, bound) {
		t.Fatalf("ULShow = %+v, %v", show, err)
	}
	if req := <-got; string(req) != `{"aor":"alice@example.com"}` {
		t.Errorf("request on the wire: %s", req)
	}
	add, err := c.UserAdd(ctx, regapi.UserAddRequest{AOR: "alice@example.com", Password: "s3cret-pw"})
	var e *regapi.Error
	if !errors.As(err, &e) || e.Status != 409 || add == nil || add.Status != 409 || add.User != nil {
		t.Errorf("UserAdd = %+v, %v; want the reply and a 409 *Error", add, err)
	}
	<-got
	rm, err := c.UserRemove(ctx, regapi.UserRemoveRequest{AOR: "bob@example.com"})
	if !errors.As(err, &e) || e.Status != 404 || rm == nil || rm.Reason != `aor: no subscriber "bob@example.com"` {
		t.Errorf("UserRemove = %+v, %v; want a 404", rm, err)
	}
	<-got
	dump, err := c.ULDump(ctx, regapi.ULDumpRequest{})
	if err != nil || len(dump.AORs) != 1 || dump.Next != "" {
		t.Errorf("ULDump = %+v, %v", dump, err)
	}
	if req := <-got; string(req) != `{}` {
		t.Errorf("empty dump request on the wire: %s", req)
	}

	// A caller's cancelled context is not "no registrar".
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.UserList(cctx, regapi.UserListRequest{}); err == nil || errors.Is(err, regapi.ErrNoRegistrar) {
		t.Errorf("cancelled: %v", err)
	}
}

// compiled compiles every embedded schema, the responses of the
// registrar's commands included (events.ValidateData knows the request
// halves only).
var compiled = sync.OnceValues(func() (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	files, err := fs.Glob(schemas.FS, "*.json")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := fs.ReadFile(schemas.FS, f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(events.SchemaBase+f, doc); err != nil {
			return nil, err
		}
	}
	return c, nil
})

// validate checks data against the schema at url (a fragment allowed).
func validate(t *testing.T, url string, data []byte) error {
	t.Helper()
	c, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", url, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

// checkDeclared fails when data holds an object key its schema does not
// declare (the schemas are open, so validation alone would not notice a Go
// JSON tag drifting from the schema). Same walk as pkg/events' test.
func checkDeclared(t *testing.T, url string, data []byte) {
	t.Helper()
	file, frag, _ := strings.Cut(strings.TrimPrefix(url, events.SchemaBase), "#")
	b, err := schemas.FS.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	node := any(root)
	if frag != "" {
		node = pointer(root, frag)
	}
	walkDeclared(t, root, node, v, "$")
}

func pointer(root map[string]any, ptr string) any {
	var n any = root
	for _, p := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		n = n.(map[string]any)[p]
	}
	return n
}

func walkDeclared(t *testing.T, root map[string]any, schema, v any, path string) {
	s, _ := schema.(map[string]any)
	if s == nil {
		return
	}
	props := map[string]any{}
	var collect func(s map[string]any)
	collect = func(s map[string]any) {
		if ref, ok := s["$ref"].(string); ok && strings.HasPrefix(ref, "#") {
			collect(pointer(root, strings.TrimPrefix(ref, "#")).(map[string]any))
		}
		if p, ok := s["properties"].(map[string]any); ok {
			for k, ps := range p {
				props[k] = ps
			}
		}
		if it, ok := s["items"].(map[string]any); ok {
			props["[]"] = it
		}
	}
	collect(s)
	switch vv := v.(type) {
	case map[string]any:
		for k, val := range vv {
			ps, ok := props[k]
			if !ok {
				t.Errorf("%s.%s is not declared in the schema", path, k)
				continue
			}
			walkDeclared(t, root, ps, val, path+"."+k)
		}
	case []any:
		for i, val := range vv {
			walkDeclared(t, root, props["[]"], val, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}
