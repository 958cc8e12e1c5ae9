package app

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/services/tm/internal/routes"
)

// fullPtx has every field of a proxy transaction set, with values that
// take encoding/json's escapes (HTML characters, control bytes, invalid
// UTF-8, U+2028) and its odd cases (a nil branch, a nil and an empty
// message, a zone east of UTC).
func fullPtx() *ptx {
	at := time.Date(2026, 12, 5, 9, 33, 15, 976052301, time.UTC)
	return &ptx{
		ID: "z9hG4bK.1<&>", ServerKey: "sk\x01\"\\", Method: "INVITE", CallID: "a\u2028b\xff",
		Req: []byte("INVITE sip:bob@example.com SIP/2.0\r\n\r\n"),
		Src: Source{Transport: "udp", Remote: "198.51.100.7:5060", Flow: "f1", Edge: "edge-1", Reply: "udp:198.51.100.7:5060"},
		Branches: []*branch{
			{I: 5, Branch: "z9hG4bKsb.0", Target: "sip:bob@192.0.2.1", Hop: hop{Transport: "udp", Dest: "192.0.2.1:5060"},
				Req: []byte{}, State: sipfsm.State("Proceeding"), Attempt: 2, Status: 486, Local: true, Resp: []byte("SIP/2.0 486 Busy\r\n\r\n"),
				Prov: true, CancelOut: true, Reason: "Busy <here>",
				Alt:       []hop{{Transport: "tcp", Dest: "192.0.2.2:5060", Flow: "x", Name: "example.com"}, {}},
				Dst:       &Target{URI: "sip:bob@example.com", Q: 0.7, Path: []string{"<sip:p@example.com;lr>"}, Received: "udp:192.0.2.9:5060", NextHop: "sip:nh.example.com"},
				Resolving: true, Lookups: 3},
			nil,
			{I: 2, Branch: "z9hG4bKsb.2"},
		},
		Groups:    [][]Target{{{URI: "sip:a@example.com", Q: 1}, {URI: "sip:b@example.com", Q: 0.5}}, {{URI: "sip:c@example.com"}}},
		OnFailure: &routes.Action{Kind: routes.Relay, URI: "sip:vm@example.com", Code: 486, Reason: "Busy", App: "vm"},
		Failover:  true, Final: 486, Cancelled: true, TimedOut: true, Ringing: true,
		Call: &callInfo{Caller: party{Display: "Alice \"A\"", URI: "sip:alice@example.com"}, Callee: party{URI: "sip:bob@example.com"},
			CallerTag: "t1", LocalUser: true, Started: at, Ringing: true, Answered: at.Add(time.Second).In(time.FixedZone("CET", 3600))},
		App:     "app-1",
		Created: at,
		Last:    []byte("SIP/2.0 200 OK\r\n\r\n"),
		Tmr:     []ptimer{{T: "A", I: 0, Due: 1764927195976}, {T: "C", I: -1, Due: 1764927375976}},
	}
}

// The record tm writes is the one encoding/json writes, byte for byte,
// for every field set and for none, and it reads back the same.
func TestPtxJSONMatchesEncodingJSON(t *testing.T) {
	cases := map[string]*ptx{
		"every field": fullPtx(),
		"no field":    {},
		"an INVITE as created": {ID: "z9hG4bK1", ServerKey: "k", Method: "INVITE", CallID: "c@h", Req: []byte("INVITE"),
			Src: Source{Transport: "udp", Remote: "127.0.0.1:5061"}, Created: time.Unix(1764927195, 5).UTC(),
			Call: &callInfo{Caller: party{URI: "sip:a@b"}, Callee: party{URI: "sip:c@d"}, Started: time.Unix(1764927195, 0).UTC()}},
		"a year json refuses (falls back)": {Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"a zone with seconds (falls back)": {Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 3601))},
	}
	for name, p := range cases {
		want, wantErr := json.Marshal(p)
		got := p.marshal()
		if wantErr != nil {
			if got != nil {
				t.Errorf("%s: json.Marshal fails (%v), marshal wrote %s", name, wantErr, got)
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
			continue
		}
		var back ptx
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%s: reads back: %v", name, err)
		}
	}
	// Every exported field of the full case is set: a field added to ptx,
	// branch or callInfo without appendJSON knowing it shows up here.
	for _, v := range []any{*fullPtx(), *fullPtx().Branches[0], *fullPtx().Call, fullPtx().Src, fullPtx().Branches[0].Alt[0]} {
		rv := reflect.ValueOf(v)
		for i := range rv.NumField() {
			if !rv.Type().Field(i).IsExported() {
				continue // in memory only: encoding/json does not write it either
			}
			if rv.Field(i).IsZero() {
				t.Errorf("%s.%s is not set in fullPtx: set it so that the test covers it", rv.Type().Name(), rv.Type().Field(i).Name)
			}
		}
	}
}

// FuzzPtxJSON: whatever the strings and messages hold, the record is the
// one encoding/json writes.
func FuzzPtxJSON(f *testing.F) {
	f.Add("z9hG4bK.1", "INVITE", "c@h", "udp", []byte("INVITE sip:b@c SIP/2.0\r\n\r\n"), "Proceeding", "Alice", int64(1764927195976052301), 486)
	f.Add("<&>\u2028", "\x00\"\\", "\xff\xfe", "", []byte{}, "", "", int64(0), 0)
	f.Fuzz(func(t *testing.T, id, method, callID, transport string, msg []byte, state, display string, ns int64, status int) {
		p := fullPtx()
		p.ID, p.Method, p.CallID, p.Src.Transport, p.Req = id, method, callID, transport, msg
		p.Branches[0].State, p.Branches[0].Status, p.Branches[0].Resp = sipfsm.State(state), status, msg
		p.Branches[2].Reason, p.Branches[2].Hop.Name = display, transport
		p.Call.Caller.Display, p.Call.Started = display, time.Unix(0, ns)
		p.Created = time.Unix(0, ns).UTC()
		want, err := json.Marshal(p)
		got := p.marshal()
		if err != nil {
			if got != nil {
				t.Fatalf("json.Marshal fails (%v), marshal wrote %s", err, got)
			}
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
