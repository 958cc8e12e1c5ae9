package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
)

var at = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func sample() location.Binding {
	return location.Binding{
		AOR: "alice@example.com", Contact: "sip:alice@192.0.2.4:5060", Q: 0.5, Expires: at.Add(time.Hour),
		CallID: "c1@192.0.2.4", CSeq: 7, Path: []string{"<sip:edge1.example.com;lr>"}, Received: "udp:198.51.100.7:40000",
		Transport: "udp", Edge: "edge-1", UserAgent: "Phone/1.0", Updated: at,
	}
}

func TestRegEvent(t *testing.T) {
	kinds := []struct {
		kind  location.ChangeKind
		event string
		typ   string
	}{
		{location.Added, "added", events.TypeRegContactAdded},
		{location.Refreshed, "refreshed", events.TypeRegContactRefreshed},
		{location.Removed, "removed", events.TypeRegContactRemoved},
		{location.Expired, "expired", events.TypeRegContactExpired},
	}
	ids := map[string]bool{}
	for _, k := range kinds {
		t.Run(k.event, func(t *testing.T) {
			b := sample()
			subject, id, ceSubject, data := RegEvent(location.Change{Kind: k.kind, Binding: b}, at)
			aor := "sip:alice@example.com"
			if subject != bus.SubjectReg(k.event, events.AORKey(aor)) || ceSubject != aor || data.CEType() != k.typ {
				t.Errorf("subject %q ce subject %q type %q", subject, ceSubject, data.CEType())
			}
			if again, _, _, _ := RegEvent(location.Change{Kind: k.kind, Binding: b}, at.Add(time.Second)); again != subject {
				t.Error("subject not stable")
			}
			if _, id2, _, _ := RegEvent(location.Change{Kind: k.kind, Binding: b}, at.Add(time.Minute)); id2 != id {
				t.Errorf("id not stable: %q then %q", id, id2)
			}
			if ids[id] {
				t.Errorf("id %q repeats across kinds", id)
			}
			ids[id] = true
			raw, _ := json.Marshal(data)
			if err := events.Validate(&bus.Event{ID: id, Type: data.CEType(), DataSchema: data.CESchema(), Data: raw}); err != nil {
				t.Errorf("%v\n%s", err, raw)
			}
			var rc events.RegContact
			_ = json.Unmarshal(raw, &rc)
			want := events.RegContact{AOR: aor, AORKey: events.AORKey(aor), Contact: b.Contact, ExpiresAt: b.Expires, Q: 0.5,
				CallID: b.CallID, CSeq: 7, Path: b.Path, Received: "sip:198.51.100.7:40000;transport=udp", UserAgent: "Phone/1.0",
				Edge: "edge-1", At: at}
			if !rc.ExpiresAt.Equal(want.ExpiresAt) || rc.AOR != want.AOR || rc.Received != want.Received || rc.CSeq != 7 ||
				rc.Q != 0.5 || !rc.At.Equal(at) || len(rc.Path) != 1 {
				t.Errorf("data %+v\nwant %+v", rc, want)
			}
		})
	}
	b := sample()
	b.CSeq++
	if _, id, _, _ := RegEvent(location.Change{Kind: location.Refreshed, Binding: b}, at); ids[id] {
		t.Error("a refresh with another CSeq has the same id")
	}
}

func TestRegEventPermanentAndLimits(t *testing.T) {
	b := sample()
	b.Expires = time.Time{}
	b.UserAgent = string(make([]rune, 2000))
	_, id, _, data := RegEvent(location.Change{Kind: location.Added, Binding: b}, at)
	raw, _ := json.Marshal(data)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if _, ok := m["expires_at"]; ok {
		t.Errorf("a permanent binding has expires_at: %s", raw)
	}
	if err := events.Validate(&bus.Event{ID: id, Type: data.CEType(), Data: raw}); err != nil {
		t.Error(err)
	}
	if _, _, _, data := RegEvent(location.Change{Kind: "moved", Binding: b}, at); data != nil {
		t.Error("unknown kind made an event")
	}
}

func TestReceivedURI(t *testing.T) {
	tests := []struct {
		name, contact, received, want string
	}{
		{"behind NAT", "sip:a@10.0.0.5:5060", "udp:198.51.100.7:40000", "sip:198.51.100.7:40000;transport=udp"},
		{"same address", "sip:a@192.0.2.4:5060", "udp:192.0.2.4:5060", ""},
		{"default port", "sip:a@192.0.2.4", "udp:192.0.2.4:5060", ""},
		{"IPv6 same", "sip:a@[2001:db8::4]:5062", "udp:[2001:db8::4]:5062", ""},
		{"IPv6 NAT", "sip:a@[2001:db8::4]", "udp:[2001:db8::9]:5060", "sip:[2001:db8::9]:5060;transport=udp"},
		{"host name contact", "sip:a@phone.example.com", "udp:192.0.2.4:5060", "sip:192.0.2.4:5060;transport=udp"},
		{"TCP flow", "sip:a@10.0.0.5;transport=tcp", "tcp:edge-1~7", ""},
		{"TCP address", "sip:a@10.0.0.5;transport=tcp", "tcp:198.51.100.7:50000", "sip:198.51.100.7:50000;transport=tcp"},
		{"none", "sip:a@10.0.0.5", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := location.Binding{Contact: tc.contact, Received: tc.received}
			if got := ReceivedURI(&b); got != tc.want {
				t.Errorf("ReceivedURI = %q, want %q", got, tc.want)
			}
		})
	}
}

type recorder struct {
	subjects, ids []string
	fail          error
}

func (r *recorder) PublishData(_ context.Context, subject, id, _, _ string, _ bus.Typed) error {
	r.subjects, r.ids = append(r.subjects, subject), append(r.ids, id)
	return r.fail
}

func TestEmit(t *testing.T) {
	r := &recorder{}
	e := &Events{Pub: r}
	b := sample()
	if err := e.Emit(context.Background(), []location.Change{{Kind: location.Removed, Binding: b}, {Kind: location.Added, Binding: b}}, at); err != nil {
		t.Fatal(err)
	}
	if len(r.subjects) != 2 || r.subjects[0][:19] != "reg.contact.removed" || r.subjects[1][:17] != "reg.contact.added" {
		t.Errorf("published %v", r.subjects)
	}
	r.fail = errors.New("ctx done")
	if err := e.Emit(context.Background(), []location.Change{{Kind: location.Added, Binding: b}}, at); err == nil {
		t.Error("a failed publish was not reported")
	}
}
