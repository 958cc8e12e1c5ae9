package notifyapi_test

import (
	"bytes"
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
	"github.com/sipbus/sipbus/pkg/notifyapi"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/schemas"
)

var when = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

var failure = events.NotifyFailed{ID: "nf-0123456789abcdef", Kind: events.NotifyMail, Key: "mail.x", Permanent: true, Code: 550,
	Error: "550 no such user", Attempts: 1, FailedAt: when, MessageID: "mail.x@example.com", To: "bob@example.com", AOR: "bob@example.com",
	Event: &events.NotifyEvent{ID: "x", Type: events.TypeCallMissed, Source: "sipbus/tm/1", Data: json.RawMessage(`{"call_id":"c"}`)}}

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

func validate(t *testing.T, url string, v any) {
	t.Helper()
	c, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", url, err)
	}
	b, _ := json.Marshal(v)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err := sch.Validate(doc); err != nil {
		t.Errorf("%s: %v\n%s", url, err, b)
	}
}

// TestSchemas: requests and replies validate against their schema files.
func TestSchemas(t *testing.T) {
	for _, s := range []struct {
		command  string
		req, rep any
	}{
		{events.CommandNotifierFailed, &notifyapi.FailedRequest{Limit: 10}, &notifyapi.FailedReply{Reply: notifyapi.Reply{Status: 200, Reason: "OK"}, Failed: []events.NotifyFailed{failure}}},
		{events.CommandNotifierRetry, &notifyapi.RetryRequest{ID: failure.ID}, &notifyapi.RetryReply{Reply: notifyapi.Reply{Status: 200, Reason: "OK: sent"}, MessageID: "mail.x@example.com"}},
	} {
		if got, want := reflect.TypeOf(events.ByType[s.command]()), reflect.TypeOf(s.req); got != want {
			t.Errorf("%s: ByType gives %v, the request is %v", s.command, got, want)
		}
		validate(t, events.SchemaURL(s.command), s.req)
		validate(t, events.SchemaURL(s.command)+"#/$defs/response", s.rep)
		validate(t, events.SchemaURL(s.command)+"#/$defs/response", notifyapi.Reply{Status: 404, Reason: "no such failure"})
	}
}

// TestFailedDefMatchesEvent: the failure in the failed command's reply is
// a copy of sipbus.notify.failed.v1 and stays one.
func TestFailedDefMatchesEvent(t *testing.T) {
	read := func(f string) map[string]any {
		b, err := schemas.FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	ev := read(events.TypeNotifyFailed + ".json")
	def := read(events.CommandNotifierFailed + ".json")["$defs"].(map[string]any)["failed"].(map[string]any)
	for _, k := range []string{"$schema", "$id", "title", "description"} {
		delete(ev, k)
		delete(def, k)
	}
	if !reflect.DeepEqual(ev, def) {
		t.Error("$defs/failed of sipbus.notifier.failed.v1.json differs from sipbus.notify.failed.v1.json")
	}
}

// TestClient runs the client against a stand-in notifier on a real NATS.
func TestClient(t *testing.T) {
	srv := testenv.NATS(t)
	nc, _ := testenv.Connect(t, srv.ClientURL())
	ctx := testenv.Context(t, 20*time.Second)
	c := &notifyapi.Client{NC: nc, Timeout: time.Second}
	if _, err := c.Failed(ctx, notifyapi.FailedRequest{}); !errors.Is(err, notifyapi.ErrNoNotifier) {
		t.Fatalf("no notifier: %v", err)
	}
	answer := func(subject string, reply any) {
		sub, err := nc.QueueSubscribe(subject, notifyapi.QueueGroup, func(m *nats.Msg) {
			b, _ := json.Marshal(reply)
			_ = m.Respond(b)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	answer(notifyapi.SubjectFailed, notifyapi.FailedReply{Reply: notifyapi.Reply{Status: 200, Reason: "OK"}, Failed: []events.NotifyFailed{failure}})
	answer(notifyapi.SubjectRetry, notifyapi.Reply{Status: 409, Reason: "already sent since"})
	rep, err := c.Failed(ctx, notifyapi.FailedRequest{})
	if err != nil || len(rep.Failed) != 1 || rep.Failed[0].ID != failure.ID {
		t.Errorf("Failed = %+v, %v", rep, err)
	}
	r, err := c.Retry(ctx, notifyapi.RetryRequest{ID: failure.ID})
	var e *notifyapi.Error
	if !errors.As(err, &e) || e.Status != 409 || r.Status != 409 || !strings.Contains(err.Error(), "notifier: 409 already sent since") {
		t.Errorf("Retry = %+v, %v", r, err)
	}
}
