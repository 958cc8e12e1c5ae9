package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/schemas"
)

func TestSchemasCompile(t *testing.T) {
	if err := events.LoadSchemas(); err != nil {
		t.Fatal(err)
	}
}

// TestEveryFileHasAType: every schema file has a Go type in ByType, and
// every ByType entry has a file.
func TestEveryFileHasAType(t *testing.T) {
	files, err := events.SchemaFiles()
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v %v", files, err)
	}
	var fromFiles, fromTypes []string
	for _, f := range files {
		fromFiles = append(fromFiles, strings.TrimSuffix(f, ".json"))
	}
	for _, typ := range []string{events.TypeRequestReceived, events.TypeResponseReceived, events.TypeMessageSent, events.TypeMessageRejected} {
		fromTypes = append(fromTypes, typ) // SIP message events: data is message/sip (events.SIP)
		if !events.IsSIPType(typ) {
			t.Errorf("IsSIPType(%s) = false", typ)
		}
	}
	for typ, mk := range events.ByType {
		fromTypes = append(fromTypes, typ)
		v, ok := mk().(bus.Typed)
		if !ok {
			t.Errorf("%s: %T does not implement bus.Typed", typ, mk())
			continue
		}
		if v.CEType() != typ || v.CESchema() != events.SchemaURL(typ) {
			t.Errorf("%s: %T says type %q schema %q", typ, v, v.CEType(), v.CESchema())
		}
	}
	sort.Strings(fromFiles)
	sort.Strings(fromTypes)
	if !slices.Equal(fromFiles, fromTypes) {
		t.Errorf("schema files %v\nGo types     %v", fromFiles, fromTypes)
	}
}

func parse(t *testing.T, file string) *sipmsg.Msg {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return m
}

var udp = events.Network{Transport: "udp", Local: "192.0.2.10:5060", Remote: "192.0.2.1:5060", Edge: "edge-1"}

var when = time.Date(2026, 11, 25, 9, 0, 0, 123456789, time.UTC)

// samples returns one filled value of every type, by schema URL.
func samples(t *testing.T) map[string]bus.Typed {
	inv := events.NewSIPMessage(parse(t, "invite.sip"), udp)
	inv.ReceivedAt = when
	res := events.NewSIPMessage(parse(t, "ringing.sip"), events.Network{Transport: "tcp", Local: "[2001:db8::1]:5060", Remote: "[2001:db8::2]:40001", Flow: "f-17", Edge: "edge-2"})
	res.ReceivedAt = when
	odd := events.NewSIPMessage(parse(t, "intmeth.sip"), udp)
	odd.ReceivedAt = when
	m := map[string]bus.Typed{
		"request":  &events.RequestReceived{SIPMessage: inv},
		"response": &events.ResponseReceived{SIPMessage: res},
		"intmeth":  &events.RequestReceived{SIPMessage: odd},
		"sent": &events.MessageSent{Raw: []byte("SIP/2.0 200 OK\r\n\r\n"), Transport: "udp", Dest: "192.0.2.1:5060",
			Local: "192.0.2.10:5060", Edge: "edge-1", Method: "INVITE", Status: 200, TxKey: "k1",
			RequestedBy: "sipbus/tm/1", CallID: "c@h", SentAt: when},
		"rejected": &events.MessageRejected{Request: odd, Status: 400, Reason: "Bad CSeq", Header: "CSeq",
			ResponseRaw: []byte("SIP/2.0 400 Bad CSeq\r\n\r\n")},
		"tx created": &events.TxCreated{TxKey: "k1", Method: "INVITE", Edge: "edge-1", Source: "192.0.2.1:5060",
			Transport: "udp", CallID: "c@h", CreatedAt: when},
		"tx absorbed": &events.TxAbsorbed{TxKey: "k1", Method: "INVITE", Retransmits: 2, ResentStatus: 180, Edge: "edge-1", CallID: "c@h"},
	}
	maps.Copy(m, callSamples())
	maps.Copy(m, regSamples())
	maps.Copy(m, edgeSamples())
	maps.Copy(m, notifySamples())
	maps.Copy(m, ctdSamples())
	return m
}

// TestRoundTripAndValidate: every sample validates against its schema, and
// decodes into a fresh value of its type equal to the original.
func TestRoundTripAndValidate(t *testing.T) {
	for name, v := range samples(t) {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := events.ValidateData(v.CESchema(), b); err != nil {
				t.Fatalf("%s\n%s", err, b)
			}
			ev := &bus.Event{ID: "1", Type: v.CEType(), DataSchema: v.CESchema(), Data: b}
			if err := events.Validate(ev); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := json.Unmarshal(b, back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, v) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", back, v)
			}
			checkDeclared(t, v.CESchema(), b)
		})
	}
}

func TestValidateRejects(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{"tx_key": "k", "method": "INVITE", "edge": "e", "source": "192.0.2.1:5060", "call_id": "c"}
	}
	with := func(k string, v any) []byte {
		m := good()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	sent := func(k string, v any) []byte {
		m := map[string]any{"raw_b64": "AAE=", "transport": "udp", "dest": "192.0.2.1:5060", "edge": "e", "call_id": "c", "sent_at": "2026-11-25T09:00:00Z"}
		m[k] = v
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name string
		ev   bus.Event
		want error
	}{
		{"valid", bus.Event{Type: events.TypeTxCreated, Data: with("x-new-field", "ignored")}, nil},
		{"missing required", bus.Event{Type: events.TypeTxCreated, Data: with("tx_key", nil)}, events.ErrInvalid},
		{"wrong type", bus.Event{Type: events.TypeTxCreated, Data: with("method", 7)}, events.ErrInvalid},
		{"bad source", bus.Event{Type: events.TypeTxCreated, Data: with("source", "nowhere")}, events.ErrInvalid},
		{"bad date-time", bus.Event{Type: events.TypeMessageSentV1, Data: sent("sent_at", "yesterday")}, events.ErrInvalid},
		{"bad base64", bus.Event{Type: events.TypeMessageSentV1, Data: sent("raw_b64", "not base64!")}, events.ErrInvalid},
		{"bad transport", bus.Event{Type: events.TypeMessageSentV1, Data: sent("transport", "sctp")}, events.ErrInvalid},
		{"not JSON", bus.Event{Type: events.TypeTxCreated, Data: []byte("{")}, events.ErrInvalid},
		{"unknown type", bus.Event{Type: "sipbus.nope.v1", Data: with("", nil)}, events.ErrUnknownType},
		{"dataschema mismatch", bus.Event{Type: events.TypeTxCreated, DataSchema: events.SchemaURL(events.TypeTxAbsorbed), Data: with("", nil)}, events.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := events.Validate(&tc.ev)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Validate = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewSIPMessage(t *testing.T) {
	m := parse(t, "invite.sip")
	s := events.NewSIPMessage(m, udp)
	want := struct {
		method, ruri, callID, from, to, branch string
		cseq                                   events.CSeq
	}{"INVITE", "sip:bob@biloxi.example.com", "a84b4c76e66710@pc33.atlanta.example.com", "1928301774", "", "z9hG4bK776asdhds",
		events.CSeq{Seq: 314159, Method: "INVITE"}}
	if s.Method != want.method || s.RequestURI != want.ruri || s.CallID != want.callID || s.FromTag != want.from ||
		s.ToTag != want.to || s.Branch != want.branch || s.CSeq == nil || *s.CSeq != want.cseq || s.Status != 0 {
		t.Errorf("summary %+v", s)
	}
	if key, _ := sipmsg.ServerTxKey(m); s.TxKey == "" || s.TxKey != key {
		t.Errorf("tx key %q, want %q", s.TxKey, key)
	}
	if !s.Index.Request || len(s.Index.Headers) != len(m.Headers) || s.Index.ContentLength != 8 {
		t.Errorf("index %+v", s.Index)
	}
	names := []string{}
	for _, h := range s.Index.Headers {
		names = append(names, fmt.Sprintf("%s/%v", h.Name, h.Compact))
	}
	if got := strings.Join(names, " "); got != "Via/true Max-Forwards/false To/true From/true Call-ID/true CSeq/false Contact/true X-Opaque/false Content-Type/true Content-Length/true" {
		t.Errorf("header names: %s", got)
	}
	r := events.NewSIPMessage(parse(t, "ringing.sip"), udp)
	if r.Status != 180 || r.Reason != "Ringing" || r.Method != "INVITE" || r.ToTag != "a6c85cf" || r.RequestURI != "" || r.Index.Request {
		t.Errorf("response summary %+v", r)
	}
	if key, _ := sipmsg.ClientTxKey(parse(t, "ringing.sip")); r.TxKey != key || key == "" {
		t.Errorf("client tx key %q, want %q", r.TxKey, key)
	}
	if _, ok := r.Event().(*events.ResponseReceived); !ok {
		t.Errorf("Event() of a response is %T", r.Event())
	}
	if _, ok := s.Event().(*events.RequestReceived); !ok {
		t.Errorf("Event() of a request is %T", s.Event())
	}
}

// TestMsgRebuild: Msg() gives back the same index as parsing, without parsing.
func TestMsgRebuild(t *testing.T) {
	for _, f := range []string{"invite.sip", "ringing.sip", "intmeth.sip"} {
		t.Run(f, func(t *testing.T) {
			orig := parse(t, f)
			s := events.NewSIPMessage(orig, udp)
			b, _ := json.Marshal(s)
			var back events.SIPMessage
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			m, err := back.Msg()
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Raw) != string(orig.Raw) || m.Request != orig.Request || m.Method != orig.Method ||
				m.MethodID != orig.MethodID || m.RequestURI != orig.RequestURI || m.Version != orig.Version ||
				m.StatusCode != orig.StatusCode || m.Reason != orig.Reason || m.Body != orig.Body ||
				m.Terminated != orig.Terminated || m.ContentLength != orig.ContentLength {
				t.Errorf("start line / body differ:\n got %+v\nwant %+v", m.Index, orig.Index)
			}
			if !reflect.DeepEqual(m.Headers, orig.Headers) {
				t.Errorf("headers differ:\n got %+v\nwant %+v", m.Headers, orig.Headers)
			}
			if m.CallID() != orig.CallID() {
				t.Errorf("Call-ID view %q, want %q", m.CallID(), orig.CallID())
			}
		})
	}
}

func TestMsgRejectsBadIndex(t *testing.T) {
	base := func() events.SIPMessage { return events.NewSIPMessage(parse(t, "ringing.sip"), udp) }
	n := uint32(len(base().Raw))
	tests := []struct {
		name   string
		break_ func(s *events.SIPMessage)
	}{
		{"body beyond", func(s *events.SIPMessage) { s.Index.Body = events.Span{Off: n, Len: 1} }},
		{"reason overflow", func(s *events.SIPMessage) { s.Index.Reason = events.Span{Off: ^uint32(0), Len: 2} }},
		{"header value beyond", func(s *events.SIPMessage) { s.Index.Headers[2].ValueLen = n }},
		{"header name beyond", func(s *events.SIPMessage) { s.Index.Headers[0].NameOff = n + 5 }},
		{"raw truncated", func(s *events.SIPMessage) { s.Raw = s.Raw[:10] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.break_(&s)
			if _, err := s.Msg(); !errors.Is(err, events.ErrBadIndex) {
				t.Errorf("Msg() = %v, want ErrBadIndex", err)
			}
		})
	}
}

// checkDeclared fails when data holds an object key its schema does not
// declare: schemas are open on purpose (additive evolution), so this is
// what keeps Go JSON tags and schema property names from drifting apart.
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
				if old, ok := props[k].(map[string]any); ok {
					// merge $ref'd and local declarations of the same property
					m := map[string]any{}
					for kk, vv := range old {
						m[kk] = vv
					}
					for kk, vv := range ps.(map[string]any) {
						m[kk] = vv
					}
					props[k] = m
				} else {
					props[k] = ps
				}
			}
		}
		if it, ok := s["items"].(map[string]any); ok {
			props["[]"] = it
		}
	}
	collect(s)
	if len(props) == 0 && s["type"] == nil {
		return // any JSON (sipbus.notify.failed.v1 event.data)
	}
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
