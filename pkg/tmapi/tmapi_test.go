package tmapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/schemas"
)

var compiled = sync.OnceValues(func() (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	files, err := fs.Glob(schemas.FS, "*.json")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, _ := fs.ReadFile(schemas.FS, f)
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

func validate(url string, v any) error {
	c, err := compiled()
	if err != nil {
		return err
	}
	sch, err := c.Compile(url)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(v)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	return sch.Validate(doc)
}

var (
	invite = &tmapi.UAC{ID: "ctd-1", Method: "INVITE", RequestURI: "sip:alice@example.com", From: "Click <sip:ctd@example.com>", FromTag: "f1",
		To: "sip:alice@example.com", Contact: "<sip:sipbus@192.0.2.10:5060>", CallID: "c1@sipbus", CSeq: 1,
		Headers: []string{"Subject: click-to-dial", "X-Ctd: 1"}, Body: "v=0\r\n", ContentType: "application/sdp",
		NextHop: "sip:proxy.example.com;lr", Auth: &tmapi.Auth{User: "ctd", Password: "pw", Realm: "example.com"},
		Owner: "ctd", ACK: tmapi.ACKByTM, Timeout: 30}
	refer = &tmapi.UAC{Method: "REFER", DialogID: "0123456789abcdef-0011223344556677", Headers: []string{"Refer-To: <sip:bob@example.com>"}}
	ok    = &tmapi.Response{Status: 200, Reason: "OK", Final: true, Message: "SIP/2.0 200 OK\r\n\r\n", ToTag: "t9", CallID: "c1@sipbus",
		CSeq: 1, Contact: "sip:alice@192.0.2.4:5060", DialogID: "0123456789abcdef-0011223344556677"}
	bad = &tmapi.Response{Status: 400, Reason: "Bad Request", Final: true, Local: true, Error: `request_uri: "tel:1" is not a sip: or sips: URI`, Field: "request_uri"}
)

// TestSchema: requests, replies and the cancel validate against
// schemas/sipbus.tm.uac.v1.json, round-trip, and bad ones are refused.
func TestSchema(t *testing.T) {
	url := events.SchemaURL(events.CommandTMUAC)
	if got := reflect.TypeOf(events.ByType[events.CommandTMUAC]()); got != reflect.TypeOf(invite) {
		t.Errorf("ByType gives %v", got)
	}
	for _, tc := range []struct {
		name, url string
		v         any
		valid     bool
	}{
		{"invite", url, invite, true},
		{"refer in dialog", url, refer, true},
		{"2xx", events.SchemaTMUACResponse, ok, true},
		{"provisional", events.SchemaTMUACResponse, &tmapi.Response{Status: 180, Reason: "Ringing"}, true},
		{"command error", events.SchemaTMUACResponse, bad, true},
		{"cancel", events.SchemaTMUACCancel, &tmapi.Cancel{ID: "ctd-1"}, true},
		{"no method", url, &tmapi.UAC{RequestURI: "sip:a@b"}, false},
		{"method with space", url, &tmapi.UAC{Method: "IN VITE"}, false},
		{"header with CRLF", url, &tmapi.UAC{Method: "OPTIONS", Headers: []string{"X: a\r\nVia: evil"}}, false},
		{"owner not a token", url, &tmapi.UAC{Method: "INVITE", Owner: "a.b"}, false},
		{"ack mode", url, &tmapi.UAC{Method: "INVITE", ACK: "never"}, false},
		{"cancel without id", events.SchemaTMUACCancel, &tmapi.Cancel{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validate(tc.url, tc.v)
			if (err == nil) != tc.valid {
				t.Fatalf("validate = %v, want valid %v", err, tc.valid)
			}
			if !tc.valid {
				return
			}
			b, _ := json.Marshal(tc.v)
			back := reflect.New(reflect.TypeOf(tc.v).Elem()).Interface()
			if err := json.Unmarshal(b, back); err != nil || !reflect.DeepEqual(back, tc.v) {
				t.Errorf("round trip: %v\n got %+v\nwant %+v", err, back, tc.v)
			}
		})
	}
	if s := invite.Auth.String(); bytes.Contains([]byte(s), []byte("pw")) {
		t.Errorf("Auth.String shows the password: %s", s)
	}
}

// TestClient runs the client against a stand-in tm on a real NATS:
// provisionals to the callback, the final returned, command errors as
// *Error, no tm as ErrNoTM, and a cancelled context publishes a Cancel.
func TestClient(t *testing.T) {
	srv := testenv.NATS(t)
	nc, _ := testenv.Connect(t, srv.ClientURL())
	ctx := testenv.Context(t, 30*time.Second)
	c := &tmapi.Client{NC: nc}
	if _, err := c.UAC(ctx, &tmapi.UAC{Method: "OPTIONS", RequestURI: "sip:a@b"}, nil); !errors.Is(err, tmapi.ErrNoTM) {
		t.Fatalf("no tm: %v", err)
	}
	cancels := make(chan string, 1)
	csub, _ := nc.Subscribe(tmapi.SubjectUACCancel, func(m *nats.Msg) {
		var cc tmapi.Cancel
		_ = json.Unmarshal(m.Data, &cc)
		cancels <- cc.ID
	})
	defer func() { _ = csub.Unsubscribe() }()
	sub, err := nc.QueueSubscribe(tmapi.SubjectUAC, tmapi.QueueGroup, func(m *nats.Msg) {
		var req tmapi.UAC
		_ = json.Unmarshal(m.Data, &req)
		send := func(r *tmapi.Response) { b, _ := json.Marshal(r); _ = m.Respond(b) }
		switch req.Method {
		case "OPTIONS":
			send(&tmapi.Response{Status: 100, Reason: "Trying"})
			send(&tmapi.Response{Status: 183, Reason: "Progress"})
			send(ok)
		case "BAD":
			send(bad)
		case "INVITE":
			send(&tmapi.Response{Status: 180, Reason: "Ringing"})
			go func() {
				if id := <-cancels; id == req.ID {
					send(&tmapi.Response{Status: 487, Reason: "Request Terminated", Final: true})
				}
			}()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	var prov []int
	r, err := c.UAC(ctx, &tmapi.UAC{Method: "OPTIONS", RequestURI: "sip:a@b"}, func(r *tmapi.Response) { prov = append(prov, r.Status) })
	if err != nil || r.Status != 200 || !reflect.DeepEqual(prov, []int{100, 183}) {
		t.Errorf("OPTIONS = %+v %v, provisionals %v", r, err, prov)
	}
	_, err = c.UAC(ctx, &tmapi.UAC{Method: "BAD"}, nil)
	var e *tmapi.Error
	if !errors.As(err, &e) || e.Field != "request_uri" || e.Status != 400 {
		t.Errorf("BAD = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	r, err = c.UAC(cctx, &tmapi.UAC{Method: "INVITE", RequestURI: "sip:a@b"}, func(*tmapi.Response) { cancel() })
	if !errors.Is(err, context.Canceled) || r == nil || r.Status != 487 {
		t.Errorf("cancelled INVITE = %+v %v", r, err)
	}
}

// TestSchemaDeclaresEveryField: every JSON field of the Go types is a
// property of its schema half, and every property a field (the schema and
// the types cannot drift apart).
func TestSchemaDeclaresEveryField(t *testing.T) {
	b, err := fs.ReadFile(schemas.FS, events.CommandTMUAC+".json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for def, v := range map[string]any{"request": tmapi.UAC{}, "response": tmapi.Response{}, "cancel": tmapi.Cancel{}} {
		props := doc.Defs[def].Properties
		typ := reflect.TypeOf(v)
		fields := map[string]bool{}
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			fields[name] = true
			if _, ok := props[name]; !ok {
				t.Errorf("%s: field %s (%s) is not in the schema", def, typ.Field(i).Name, name)
			}
		}
		for p := range props {
			if !fields[p] {
				t.Errorf("%s: schema property %s has no Go field", def, p)
			}
		}
	}
}
