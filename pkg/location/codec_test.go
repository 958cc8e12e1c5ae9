package location

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestCodecRoundTrip: what encode writes decodes, through the fast path,
// into the same binding, and encoding/json reads it the same way.
func TestCodecRoundTrip(t *testing.T) {
	for _, b := range []Binding{
		{AOR: "sip:a@x", Contact: "<sip:a@10.0.0.1:5060>", Q: 0.5, Expires: time.UnixMilli(1_800_000_000_123),
			CallID: "c1@h", CSeq: 7, Updated: time.UnixMilli(1_700_000_000_000)},
		{AOR: "sip:a@x", Contact: "<sip:a@[::1]>;+sip.instance=\"<urn:uuid:1>\"", CallID: "quote\"back\\slash\ttab\x01é\u2028",
			Path: []string{"<sip:p1;lr>", "<sip:p2;lr>"}, Received: "sip:1.2.3.4:5", Transport: "tls", Edge: "edge-1",
			UserAgent: "Baresip <x> & co", InstanceID: "<urn:uuid:1>", RegID: 2, CSeq: 1<<32 - 1},
		{AOR: "sip:a@x", Contact: "bad \xff utf-8"},
	} {
		raw := encode(&b)
		got, err := decode(b.AOR, raw)
		if err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		var r record
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatalf("encoding/json on %s: %v", raw, err)
		}
		if fast, ok := decodeFast(raw); ok && !reflect.DeepEqual(fast, r) {
			t.Errorf("fast %+v, encoding/json %+v", fast, r)
		}
		want := b
		if want.Contact == "bad \xff utf-8" {
			want.Contact = "bad \ufffd utf-8" // as encoding/json writes it
		}
		if want.CallID != "" && want.CallID[0] == 'q' {
			want.CallID = "quote\"back\\slash\ttab\x01é\u2028"
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", raw, got, want)
		}
	}
	if _, ok := decodeFast(`{"contact":"<sip:a@h>","q":1000,"expires":5,"callid":"c","cseq":1,"updated":5}`); !ok {
		t.Error("the fast path refused encode's shape")
	}
}

// FuzzCodec: encode's output is valid JSON that encoding/json reads as the
// same record, and whenever decodeFast accepts a text it reads exactly what
// encoding/json reads.
func FuzzCodec(f *testing.F) {
	f.Add(`{"contact":"<sip:a@h>","q":1000,"expires":5,"callid":"c","cseq":1,"path":["<sip:p;lr>"],"regid":1,"updated":5}`, "<sip:a@h>", "ua")
	f.Add(`{"contact":"a","contact":"b"}`, "x\"y", "\xff")
	f.Add(`{"q":01}`, "", "")
	f.Add(`{"cseq":-1,"path":[]}`, "\u2028", "\x00")
	f.Fuzz(func(t *testing.T, raw, contact, ua string) {
		if fast, ok := decodeFast(raw); ok {
			var r record
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				t.Fatalf("fast accepted %q, encoding/json refuses it: %v", raw, err)
			}
			if !reflect.DeepEqual(fast, r) {
				t.Fatalf("%q: fast %+v, encoding/json %+v", raw, fast, r)
			}
		}
		b := Binding{Contact: contact, UserAgent: ua, CallID: ua, Path: []string{contact}, CSeq: uint32(len(raw))}
		enc := encode(&b)
		var r record
		if err := json.Unmarshal([]byte(enc), &r); err != nil {
			t.Fatalf("encode wrote %q, not JSON: %v", enc, err)
		}
		if _, err := decode("sip:a@b", enc); err != nil {
			t.Fatalf("decode %q: %v", enc, err)
		}
		if fast, ok := decodeFast(enc); ok && !reflect.DeepEqual(fast, r) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", enc, fast, r)
		}
	})
}
