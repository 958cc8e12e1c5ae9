package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/schemas"
)

const aor = "sip:bob@biloxi.example.com"

func regContact() events.RegContact {
	return events.RegContact{
		AOR: aor, AORKey: events.AORKey(aor), Contact: "sip:bob@192.0.2.4:5060;transport=tcp",
		ExpiresAt: when.Add(time.Hour), Q: 0.7, CallID: "843817637684230@998sdasdh09", CSeq: 1826,
		Path:     []string{"<sip:P1.example.com;lr>", "<sip:P2.example.com;lr>"},
		Received: "sip:198.51.100.7:40001;transport=tcp", UserAgent: "Softphone/1.0", Edge: "edge-1", At: when,
	}
}

// regSamples is one filled value of every reg.contact type, for
// TestRoundTripAndValidate.
func regSamples() map[string]bus.Typed {
	// A permanent binding with only the required fields.
	minimal := events.RegContact{AOR: aor, AORKey: events.AORKey(aor), Contact: "sip:bob@192.0.2.4",
		Q: 1, CallID: "c@h", CSeq: 0, At: when}
	return map[string]bus.Typed{
		"reg added":           &events.RegContactAdded{RegContact: regContact()},
		"reg added permanent": &events.RegContactAdded{RegContact: minimal},
		"reg refreshed":       &events.RegContactRefreshed{RegContact: regContact()},
		"reg removed":         &events.RegContactRemoved{RegContact: regContact()},
		"reg expired":         &events.RegContactExpired{RegContact: regContact()},
	}
}

// TestAORKey pins the construction: FNV-1a 64 of the AOR bytes, 16
// lower-case hex digits, the same as sipmsg.CallKey.
func TestAORKey(t *testing.T) {
	for _, in := range []string{aor, "sip:alice@atlanta.example.com", "sips:x.y*z>@h", "tel:+15551234567"} {
		h := fnv.New64a()
		h.Write([]byte(in))
		if got, want := events.AORKey(in), fmt.Sprintf("%016x", h.Sum64()); got != want {
			t.Errorf("AORKey(%q) = %q, want %q", in, got, want)
		}
	}
	if got := events.AORKey(""); got != "0000000000000000" {
		t.Errorf("AORKey(\"\") = %q", got)
	}
	if events.AORKey("sip:bob@biloxi.example.com") == events.AORKey("sip:Bob@biloxi.example.com") {
		t.Error("AORKey folds case; it must hash bytes as given")
	}
}

func TestRegValidateRejects(t *testing.T) {
	edit := func(typ string, f func(m map[string]any)) *bus.Event {
		b, _ := json.Marshal(regContact())
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f(m)
		b, _ = json.Marshal(m)
		return &bus.Event{ID: "1", Type: typ, Data: b}
	}
	tests := []struct {
		name string
		ev   *bus.Event
	}{
		{"q above 1", edit(events.TypeRegContactAdded, func(m map[string]any) { m["q"] = 1.5 })},
		{"q negative", edit(events.TypeRegContactRefreshed, func(m map[string]any) { m["q"] = -0.1 })},
		{"q missing", edit(events.TypeRegContactRemoved, func(m map[string]any) { delete(m, "q") })},
		{"bad aor_key", edit(events.TypeRegContactExpired, func(m map[string]any) { m["aor_key"] = "sip:bob" })},
		{"empty contact", edit(events.TypeRegContactAdded, func(m map[string]any) { m["contact"] = "" })},
		{"cseq negative", edit(events.TypeRegContactAdded, func(m map[string]any) { m["cseq"] = -1 })},
		{"cseq too large", edit(events.TypeRegContactAdded, func(m map[string]any) { m["cseq"] = 1 << 32 })},
		{"path not array", edit(events.TypeRegContactAdded, func(m map[string]any) { m["path"] = "<sip:p;lr>" })},
		{"received not a URI", edit(events.TypeRegContactAdded, func(m map[string]any) { m["received"] = "198.51.100.7:40001" })},
		{"bad expires_at", edit(events.TypeRegContactAdded, func(m map[string]any) { m["expires_at"] = "never" })},
		{"no at", edit(events.TypeRegContactExpired, func(m map[string]any) { delete(m, "at") })},
		{"no aor", edit(events.TypeRegContactRemoved, func(m map[string]any) { delete(m, "aor") })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := events.Validate(tc.ev); !errors.Is(err, events.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid\n%s", err, tc.ev.Data)
			}
		})
	}
}

// TestRegTypes: a handler of one reg.contact type refuses the others, and a
// handler of RegContact takes all four.
func TestRegTypes(t *testing.T) {
	data, _ := json.Marshal(regContact())
	all := []string{events.TypeRegContactAdded, events.TypeRegContactRefreshed, events.TypeRegContactRemoved, events.TypeRegContactExpired}
	for _, typ := range all {
		ev := &bus.Event{ID: "1", Type: typ, Data: data}
		var got events.RegContact
		all4 := bus.TypedFunc(func(_ context.Context, _ *bus.Event, c *events.RegContact) error { got = *c; return nil })
		if err := all4(context.Background(), ev); err != nil || !reflect.DeepEqual(got, regContact()) {
			t.Errorf("%s as RegContact: %v %+v", typ, err, got)
		}
		added := bus.TypedFunc(func(context.Context, *bus.Event, *events.RegContactAdded) error { return nil })
		if err := added(context.Background(), ev); (err == nil) != (typ == events.TypeRegContactAdded) || err != nil && !bus.IsPermanent(err) {
			t.Errorf("%s to a RegContactAdded handler: %v", typ, err)
		}
	}
}

// TestRegSubjects: the subject event names in pkg/bus match the type names.
func TestRegSubjects(t *testing.T) {
	ak := events.AORKey(aor)
	for typ, ev := range map[string]string{
		events.TypeRegContactAdded:     bus.RegEventAdded,
		events.TypeRegContactRefreshed: bus.RegEventRefreshed,
		events.TypeRegContactRemoved:   bus.RegEventRemoved,
		events.TypeRegContactExpired:   bus.RegEventExpired,
	} {
		if want := "sipbus.reg.contact." + ev + ".v1"; typ != want {
			t.Errorf("type %q, subject event %q (want type %q)", typ, ev, want)
		}
		if got, want := bus.SubjectReg(ev, ak), "reg.contact."+ev+"."+ak[:2]; got != want {
			t.Errorf("SubjectReg = %q, want %q", got, want)
		}
	}
	if got := bus.SubjectReg("odd.event", ""); got != "reg.contact."+bus.SafeToken("odd.event")+"."+bus.Partition("_") {
		t.Errorf("SubjectReg of unsafe tokens = %q", got)
	}
}

// TestSharedDefs: the $defs copied into several schema files are identical
// (party in the call files, contact in the reg.contact files).
func TestSharedDefs(t *testing.T) {
	groups := []struct {
		def   string
		types []string
	}{
		{"party", []string{events.TypeCallStarted, events.TypeCallRinging, events.TypeCallAnswered, events.TypeCallEnded, events.TypeCallMissed}},
		{"contact", []string{events.TypeRegContactAdded, events.TypeRegContactRefreshed, events.TypeRegContactRemoved, events.TypeRegContactExpired}},
	}
	for _, g := range groups {
		var first any
		for _, typ := range g.types {
			b, err := schemas.FS.ReadFile(typ + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Defs map[string]any `json:"$defs"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			d, ok := doc.Defs[g.def]
			switch {
			case !ok:
				t.Errorf("%s has no $defs/%s", typ, g.def)
			case first == nil:
				first = d
			case !reflect.DeepEqual(d, first):
				t.Errorf("%s: $defs/%s differs from %s's", typ, g.def, g.types[0])
			}
		}
	}
}
