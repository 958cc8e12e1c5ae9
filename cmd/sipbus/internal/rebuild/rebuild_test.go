package rebuild

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func ch(kind, aor, contact string, expires time.Time) Change {
	return Change{Kind: kind, C: events.RegContact{AOR: aor, Contact: contact, ExpiresAt: expires, Q: 1, CallID: "c", CSeq: 1, At: now}}
}

// TestFold: the log's last word per binding, live ones only.
func TestFold(t *testing.T) {
	later, earlier := now.Add(time.Hour), now.Add(-time.Minute)
	for _, tc := range []struct {
		name    string
		changes []Change
		want    string // "aor contact" joined by ","
	}{
		{"added", []Change{ch(bus.RegEventAdded, "sip:bob@l", "sip:bob@1.2.3.4", later)}, "bob@l sip:bob@1.2.3.4"},
		{"expired by time", []Change{ch(bus.RegEventAdded, "sip:bob@l", "sip:bob@1.2.3.4", earlier)}, ""},
		{"refreshed later", []Change{ch(bus.RegEventAdded, "sip:bob@l", "sip:b@1", earlier), ch(bus.RegEventRefreshed, "sip:bob@l", "sip:b@1", later)}, "bob@l sip:b@1"},
		{"removed", []Change{ch(bus.RegEventAdded, "sip:bob@l", "sip:b@1", later), ch(bus.RegEventRemoved, "sip:bob@l", "sip:b@1", later)}, ""},
		{"expired event", []Change{ch(bus.RegEventAdded, "sip:bob@l", "sip:b@1", later), ch(bus.RegEventExpired, "sip:bob@l", "sip:b@1", later)}, ""},
		{"re-added", []Change{ch(bus.RegEventAdded, "sip:bob@l", "sip:b@1", later), ch(bus.RegEventRemoved, "sip:bob@l", "sip:b@1", later), ch(bus.RegEventAdded, "sip:bob@l", "sip:b@1", later)}, "bob@l sip:b@1"},
		{"permanent", []Change{ch(bus.RegEventAdded, "sip:gw@l", "sip:gw@5.6.7.8", time.Time{})}, "gw@l sip:gw@5.6.7.8"},
		{"two contacts", []Change{ch(bus.RegEventAdded, "sip:bob@l", "sip:b@2", later), ch(bus.RegEventAdded, "sip:bob@l", "sip:b@1", later)}, "bob@l sip:b@1,bob@l sip:b@2"},
		{"bad aor skipped", []Change{ch(bus.RegEventAdded, "sip:nouser", "sip:b@1", later)}, ""},
	} {
		var got []string
		for _, b := range Fold(tc.changes, now) {
			got = append(got, b.AOR+" "+b.Contact)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestReceived: the event's source URI back to the location form.
func TestReceived(t *testing.T) {
	for in, want := range map[string]string{
		"sip:198.51.100.7:40000;transport=udp": "udp:198.51.100.7:40000",
		"sip:[2001:db8::1]:5060;transport=tcp": "tcp:[2001:db8::1]:5060",
		"sip:198.51.100.7:40000":               "udp:198.51.100.7:40000",
		"sip:host.example:5060":                "",
		"":                                     "",
	} {
		if got, _ := received(in); got != want {
			t.Errorf("received(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecode: any message on a reg.contact subject decodes or is skipped.
func FuzzDecode(f *testing.F) {
	data, _ := json.Marshal(events.RegContact{AOR: "sip:bob@l", AORKey: "k", Contact: "sip:b@1", Q: 1, CallID: "c", CSeq: 1, At: now})
	f.Add("reg.contact.added.k", data)
	f.Add("reg.contact.x.k", []byte("{}"))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		ev := &bus.Event{ID: "1", Source: "s", Type: events.TypeRegContactAdded, Time: now, Data: data}
		c, ok := Decode(bus.Encode(subject, ev))
		if ok {
			_ = Fold([]Change{c}, now)
		}
	})
}
