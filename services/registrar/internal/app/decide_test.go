package app

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// contacts lists "uri expires-in-seconds q" of an update's bindings.
func contactsOf(u *location.Update) []string {
	var out []string
	for _, b := range u.Contacts {
		out = append(out, fmt.Sprintf("%s %d %g", b.Contact, int(b.Expires.Sub(now)/time.Second), b.Q))
	}
	return out
}

func TestDecide(t *testing.T) {
	local := Options{Domains: []string{"example.com"}}
	tests := []struct {
		name string
		mods []string
		src  Source
		opt  Options
		// Expected outcome: status and reason; for 200, either Fetch,
		// Wildcard, or the contacts as "uri seconds q".
		reply    int
		reason   string
		headers  []string
		fetch    bool
		wildcard bool
		contacts []string
		aor      string
		check    func(t *testing.T, d Decision)
	}{
		{name: "contact with Expires header", mods: []string{"Contact: <sip:alice@192.0.2.4>", "Expires: 1800"},
			reply: 200, contacts: []string{"sip:alice@192.0.2.4 1800 1"}},
		{name: "contact expires parameter beats the Expires header", mods: []string{"Contact: <sip:alice@192.0.2.4>;expires=600", "Expires: 1800"},
			reply: 200, contacts: []string{"sip:alice@192.0.2.4 600 1"}},
		{name: "neither parameter nor header: DefaultExpires", mods: []string{"Contact: <sip:alice@192.0.2.4>"},
			opt: Options{DefaultExpires: 900 * time.Second}, reply: 200, contacts: []string{"sip:alice@192.0.2.4 900 1"}},
		{name: "expires 0 removes the contact", mods: []string{"Contact: <sip:alice@192.0.2.4>;expires=0"},
			reply: 200, contacts: []string{"sip:alice@192.0.2.4 0 1"}},
		{name: "Expires header 0 removes every listed contact", mods: []string{"Contact: <sip:a@192.0.2.4>, <sip:b@192.0.2.4>", "Expires: 0"},
			reply: 200, contacts: []string{"sip:a@192.0.2.4 0 1", "sip:b@192.0.2.4 0 1"}},
		{name: "contact expires below MinExpires: 423 with Min-Expires", mods: []string{"Contact: <sip:alice@192.0.2.4>;expires=30"},
			reply: 423, reason: ReasonTooBrief, headers: []string{"Min-Expires: 60"}},
		{name: "Expires header below MinExpires: 423", mods: []string{"Contact: <sip:alice@192.0.2.4>", "Expires: 59"},
			opt: Options{MinExpires: 120 * time.Second}, reply: 423, reason: ReasonTooBrief, headers: []string{"Min-Expires: 120"}},
		{name: "expires above MaxExpires is shortened", mods: []string{"Contact: <sip:alice@192.0.2.4>;expires=86400"},
			reply: 200, contacts: []string{"sip:alice@192.0.2.4 3600 1"}},
		{name: "huge expires is shortened", mods: []string{"Contact: <sip:alice@192.0.2.4>", "Expires: 99999999999999"},
			reply: 200, contacts: []string{"sip:alice@192.0.2.4 3600 1"}},
		{name: "Contact * with Expires 0 is a wildcard", mods: []string{"Contact: *", "Expires: 0"},
			reply: 200, wildcard: true},
		{name: "Contact * without Expires: 400", mods: []string{"Contact: *"},
			reply: 400, reason: ReasonStarInvalid},
		{name: "Contact * with Expires 60: 400", mods: []string{"Contact: *", "Expires: 60"},
			reply: 400, reason: ReasonStarInvalid},
		{name: "Contact * and another Contact row: 400", mods: []string{"Contact: *", "Contact: <sip:alice@192.0.2.4>", "Expires: 0"},
			reply: 400, reason: ReasonStarInvalid},
		{name: "Contact * in a list: 400", mods: []string{"Contact: <sip:alice@192.0.2.4>, *", "Expires: 0"},
			reply: 400, reason: ReasonStarInvalid},
		{name: "no Contact is a query", reply: 200, fetch: true},
		{name: "To with a tel URI: 400 naming To", mods: []string{"To: <tel:+15551234>"},
			reply: 400, reason: ReasonToNotSIP, aor: "-"},
		{name: "To with a mailto URI: 400 naming To", mods: []string{"To: <mailto:alice@example.com>"},
			reply: 400, reason: ReasonToNotSIP, aor: "-"},
		{name: "To without a user: 400", mods: []string{"To: <sip:example.com>"},
			reply: 400, reason: ReasonToNoUser, aor: "-"},
		{name: "To missing: 400", mods: []string{"-To"},
			reply: 400, reason: ReasonToMissing, aor: "-"},
		{name: "To unparseable: 400", mods: []string{"To: <sip:alice@example.com"},
			reply: 400, reason: ReasonToInvalid, aor: "-"},
		{name: "AOR normalised from To", mods: []string{"To: <sips:Alice@EXAMPLE.com:5061;transport=tls>", "Contact: <sip:alice@192.0.2.4>"},
			reply: 200, aor: "Alice@example.com", contacts: []string{"sip:alice@192.0.2.4 3600 1"}},
		{name: "domain not served: 403", mods: []string{"To: <sip:alice@elsewhere.org>", "Contact: <sip:alice@192.0.2.4>"},
			opt: local, reply: 403, reason: ReasonNotServed, aor: "alice@elsewhere.org"},
		{name: "served domain in another case", mods: []string{"To: <sip:alice@Example.COM>", "Contact: <sip:alice@192.0.2.4>"},
			opt: local, reply: 200, contacts: []string{"sip:alice@192.0.2.4 3600 1"}},
		{name: "q parsed", mods: []string{"Contact: <sip:a@192.0.2.4>;q=0.5, <sip:b@192.0.2.4>;q=0, <sip:c@192.0.2.4>;q=1.000"},
			reply: 200, contacts: []string{"sip:a@192.0.2.4 3600 0.5", "sip:b@192.0.2.4 3600 0", "sip:c@192.0.2.4 3600 1"}},
		{name: "q above 1: 400 naming q", mods: []string{"Contact: <sip:a@192.0.2.4>;q=1.5"},
			reply: 400, reason: reasonBadQ},
		{name: "q not a number: 400 naming q", mods: []string{"Contact: <sip:a@192.0.2.4>;q=high"},
			reply: 400, reason: reasonBadQ},
		{name: "expires parameter not a number: 400", mods: []string{"Contact: <sip:a@192.0.2.4>;expires=soon"},
			reply: 400, reason: reasonBadExpires},
		{name: "Expires header not a number: 400", mods: []string{"Contact: <sip:a@192.0.2.4>", "Expires: soon"},
			reply: 400, reason: ReasonExpires},
		{name: "Contact not a URI: 400", mods: []string{"Contact: <alice at home>"},
			reply: 400, reason: reasonBadContact},
		{name: "more contacts than MaxContacts: 403", mods: []string{"Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>, <sip:c@192.0.2.1>"},
			opt: Options{MaxContacts: 2}, reply: 403, reason: ReasonTooMany},
		{name: "removals do not count toward MaxContacts", mods: []string{"Contact: <sip:a@192.0.2.1>;expires=0, <sip:b@192.0.2.1>;expires=0, <sip:c@192.0.2.1>"},
			opt: Options{MaxContacts: 2}, reply: 200, contacts: []string{"sip:a@192.0.2.1 0 1", "sip:b@192.0.2.1 0 1", "sip:c@192.0.2.1 3600 1"},
			check: func(t *testing.T, d Decision) {
				if d.Update.MaxContacts != 2 {
					t.Errorf("Update.MaxContacts = %d, want 2", d.Update.MaxContacts)
				}
			}},
		{name: "MaxContacts < 0 is unlimited", mods: []string{"Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>"},
			opt: Options{MaxContacts: -1}, reply: 200, contacts: []string{"sip:a@192.0.2.1 3600 1", "sip:b@192.0.2.1 3600 1"},
			check: func(t *testing.T, d Decision) {
				if d.Update.MaxContacts != 0 {
					t.Errorf("Update.MaxContacts = %d, want 0 (unlimited)", d.Update.MaxContacts)
				}
			}},
		{name: "contacts over rows, lists and compact form", mods: []string{"Contact: \"A, B\" <sip:a@192.0.2.1>, sip:b@192.0.2.1;expires=120", "m: <sip:c@[2001:db8::1]:5060>"},
			reply: 200, contacts: []string{"sip:a@192.0.2.1 3600 1", "sip:b@192.0.2.1 120 1", "sip:c@[2001:db8::1]:5060 3600 1"}},
		{name: "Path captured in order", mods: []string{"Contact: <sip:a@192.0.2.1>", "Path: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>", "Path: <sip:p3.example.com;lr>"},
			reply: 200, contacts: []string{"sip:a@192.0.2.1 3600 1"},
			check: func(t *testing.T, d Decision) {
				want := []string{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"}
				if got := d.Update.Contacts[0].Path; !slices.Equal(got, want) {
					t.Errorf("Path = %q, want %q", got, want)
				}
			}},
		{name: "Path not a name-addr: 400", mods: []string{"Contact: <sip:a@192.0.2.1>", "Path: <sip:p1.example.com;lr"},
			reply: 400, reason: ReasonPath},
		{name: "+sip.instance and reg-id captured", mods: []string{`Contact: <sip:a@192.0.2.1;ob>;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";reg-id=2`},
			reply: 200, contacts: []string{"sip:a@192.0.2.1;ob 3600 1"},
			check: func(t *testing.T, d Decision) {
				b := d.Update.Contacts[0]
				if b.InstanceID != "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>" || b.RegID != 2 {
					t.Errorf("instance, reg-id = %q, %d", b.InstanceID, b.RegID)
				}
			}},
		{name: "reg-id without +sip.instance is ignored", mods: []string{"Contact: <sip:a@192.0.2.1;ob>;reg-id=1"},
			reply: 200, contacts: []string{"sip:a@192.0.2.1;ob 3600 1"},
			check: func(t *testing.T, d Decision) {
				if b := d.Update.Contacts[0]; b.RegID != 0 || b.InstanceID != "" {
					t.Errorf("instance, reg-id = %q, %d; want none", b.InstanceID, b.RegID)
				}
			}},
		{name: "reg-id 0: 400", mods: []string{`Contact: <sip:a@192.0.2.1>;+sip.instance="<urn:uuid:1>";reg-id=0`},
			reply: 400, reason: reasonBadRegID},
		{name: "empty +sip.instance: 400", mods: []string{`Contact: <sip:a@192.0.2.1>;+sip.instance=""`},
			reply: 400, reason: reasonBadInstance},
		{name: "Source, User-Agent, Call-ID and CSeq stored", mods: []string{"Contact: <sip:a@192.0.2.1>", "User-Agent: Phone/1.0"},
			src: Source{Transport: "udp", Received: "udp:203.0.113.9:40000", Edge: "edge-7"}, reply: 200, contacts: []string{"sip:a@192.0.2.1 3600 1"},
			check: func(t *testing.T, d Decision) {
				u, b := d.Update, d.Update.Contacts[0]
				if u.CallID != "843817637684230@998sdasdh09" || u.CSeq != 1826 || !u.Now.Equal(now) {
					t.Errorf("update = %+v", u)
				}
				if b.Received != "udp:203.0.113.9:40000" || b.Transport != "udp" || b.Edge != "edge-7" || b.UserAgent != "Phone/1.0" || b.AOR != "alice@example.com" {
					t.Errorf("binding = %+v", b)
				}
			}},
		{name: "Call-ID missing: 400", mods: []string{"-Call-ID", "Contact: <sip:a@192.0.2.1>"},
			reply: 400, reason: ReasonCallID, aor: "-"},
		{name: "CSeq missing: 400", mods: []string{"-CSeq", "Contact: <sip:a@192.0.2.1>"},
			reply: 400, reason: ReasonCSeqMissing, aor: "-"},
		{name: "CSeq not a number: 400", mods: []string{"CSeq: x REGISTER"},
			reply: 400, reason: ReasonCSeqInvalid, aor: "-"},
		{name: "CSeq of another method: 400", mods: []string{"CSeq: 1 INVITE"},
			reply: 400, reason: ReasonCSeqMethod, aor: "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(register(t, tc.mods...), tc.src, now, tc.opt)
			if d.Reply != tc.reply {
				t.Fatalf("Reply = %d %q, want %d", d.Reply, d.Reason, tc.reply)
			}
			wantReason := tc.reason
			if tc.reply == 200 {
				wantReason = "OK"
			}
			if d.Reason != wantReason {
				t.Errorf("Reason = %q, want %q", d.Reason, wantReason)
			}
			if !slices.Equal(d.Headers, tc.headers) {
				t.Errorf("Headers = %q, want %q", d.Headers, tc.headers)
			}
			wantAOR := tc.aor
			switch wantAOR {
			case "":
				wantAOR = "alice@example.com"
			case "-":
				wantAOR = ""
			}
			if d.AOR != wantAOR {
				t.Errorf("AOR = %q, want %q", d.AOR, wantAOR)
			}
			if d.Fetch != tc.fetch {
				t.Errorf("Fetch = %v, want %v", d.Fetch, tc.fetch)
			}
			switch {
			case tc.reply != 200 || tc.fetch:
				if d.Update != nil {
					t.Errorf("Update = %+v, want none", d.Update)
				}
			case d.Update == nil:
				t.Fatalf("no Update")
			default:
				if d.Update.Wildcard != tc.wildcard {
					t.Errorf("Wildcard = %v, want %v", d.Update.Wildcard, tc.wildcard)
				}
				if got := contactsOf(d.Update); !slices.Equal(got, tc.contacts) {
					t.Errorf("contacts:\n got %q\nwant %q", got, tc.contacts)
				}
				if d.Update.AOR != d.AOR {
					t.Errorf("Update.AOR = %q, Decision.AOR %q", d.Update.AOR, d.AOR)
				}
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func TestDecideNotRegister(t *testing.T) {
	for _, start := range []string{"INVITE sip:alice@example.com SIP/2.0", "SIP/2.0 200 OK"} {
		d := Decide(build(t, start), Source{}, now, Options{})
		if d.Reply != 405 || !slices.Equal(d.Headers, []string{"Allow: REGISTER"}) || d.Update != nil {
			t.Errorf("%s: Decide = %+v, want 405 with Allow: REGISTER", start, d)
		}
	}
}

// TestDecideUpdatesAreValid applies every update the table produces to a
// location store: Decide never hands the store something it rejects.
func TestDecideUpdatesAreValid(t *testing.T) {
	s := location.NewMemory()
	for i, mods := range [][]string{
		{"Contact: <sip:alice@192.0.2.4>;q=0.7;expires=600, <sips:alice@[2001:db8::9]:5061;transport=tls>", "Path: <sip:p;lr>"},
		{`Contact: "Al" <sip:alice@192.0.2.4;ob>;+sip.instance="<urn:uuid:1>";reg-id=1`},
		{"Contact: *", "Expires: 0"},
		{"Contact: <tel:+15551234>"},
	} {
		mods = append(mods, fmt.Sprintf("CSeq: %d REGISTER", i+1))
		d := Decide(register(t, mods...), Source{Transport: "udp"}, now, Options{})
		if d.Update == nil {
			t.Fatalf("case %d: no update: %+v", i, d)
		}
		if _, _, err := s.Apply(t.Context(), *d.Update); err != nil {
			t.Errorf("case %d: Apply: %v", i, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want []string // substrings of the error; none: valid
	}{
		{"zero value uses the defaults", Options{}, nil},
		{"explicit", Options{Domains: []string{"example.com"}, MinExpires: time.Minute, MaxExpires: 2 * time.Hour, DefaultExpires: time.Hour, MaxContacts: -1}, nil},
		{"MinExpires over an hour", Options{MinExpires: 2 * time.Hour, MaxExpires: 3 * time.Hour, DefaultExpires: 2 * time.Hour}, []string{"MinExpires"}},
		{"MaxExpires below MinExpires", Options{MinExpires: 10 * time.Minute, MaxExpires: 5 * time.Minute, DefaultExpires: 5 * time.Minute}, []string{"MaxExpires", "DefaultExpires"}},
		{"DefaultExpires above MaxExpires", Options{DefaultExpires: 2 * time.Hour}, []string{"DefaultExpires"}},
		{"upper-case domain", Options{Domains: []string{"Example.com"}}, []string{"Domains[0]"}},
		{"empty domain", Options{Domains: []string{""}}, []string{"Domains[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opt.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v; does not name %s", err, w)
				}
			}
		})
	}
}

// BenchmarkDecide is a typical refresh: one Contact with expires, Path, an
// RFC 5626 instance.
func BenchmarkDecide(b *testing.B) {
	m := register(b, `Contact: <sip:alice@198.51.100.7:49152;transport=tcp;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1;expires=600`,
		"Path: <sip:edge-1.example.com;lr;ob>", "User-Agent: Softphone/1.0")
	opt := Options{Domains: []string{"example.com"}}
	src := Source{Transport: "tcp", Received: "tcp:f-1", Edge: "edge-1"}
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(m, src, now, opt); d.Update == nil {
			b.Fatal(d)
		}
	}
}

// BenchmarkOK builds the 200 for two bindings.
func BenchmarkOK(b *testing.B) {
	m := register(b, "Contact: <sip:alice@192.0.2.4>", "Supported: path", "Path: <sip:edge-1.example.com;lr>")
	bs := []location.Binding{
		{Contact: "sip:alice@192.0.2.4", Q: 1, Expires: now.Add(time.Hour)},
		{Contact: "sip:alice@198.51.100.7;ob", Q: 0.5, Expires: now.Add(time.Hour), InstanceID: "<urn:uuid:1>", RegID: 1},
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = OK(m, bs, now, sipmsg.ReplyOptions{ToTag: "t"})
	}
}
