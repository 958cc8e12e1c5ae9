package routes

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

// headers returns a HasHeader over names, compared case-insensitively.
func headers(names ...string) func(string) bool {
	return func(n string) bool {
		for _, h := range names {
			if strings.EqualFold(h, n) {
				return true
			}
		}
		return false
	}
}

func mustParse(t testing.TB, src string) *Table {
	t.Helper()
	tab, err := Parse([]byte(src), t.Name()+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestMatchFields(t *testing.T) {
	tests := []struct {
		name  string
		match string // the match: mapping of a single rule
		req   Request
		want  bool
	}{
		{"empty match", "{}", Request{}, true},
		{"method", "{method: INVITE}", Request{Method: "INVITE"}, true},
		{"other method", "{method: INVITE}", Request{Method: "BYE"}, false},
		{"method compares exactly", "{method: INVITE}", Request{Method: "invite"}, false},
		{"method from lower case file", "{method: invite}", Request{Method: "INVITE"}, true},
		{"method list", "{method: [INVITE, MESSAGE]}", Request{Method: "MESSAGE"}, true},
		{"extension method", "{method: PUBLISH}", Request{Method: "PUBLISH"}, true},

		{"user", "{user: bob}", Request{User: "bob"}, true},
		{"user is case-sensitive", "{user: bob}", Request{User: "Bob"}, false},
		{"user absent", "{user: bob}", Request{}, false},
		{"numeric user", "{user: 1000}", Request{User: "1000"}, true},
		{"user_regex", `{user_regex: '\+49[0-9]+'}`, Request{User: "+4930123"}, true},
		{"user_regex anchored at start", `{user_regex: '\+49[0-9]+'}`, Request{User: "x+4930123"}, false},
		{"user_regex anchored at end", `{user_regex: '\+49[0-9]+'}`, Request{User: "+4930123x"}, false},
		{"user_regex alternation anchored", "{user_regex: 'a|b'}", Request{User: "ab"}, false},
		{"user_regex alternation", "{user_regex: 'a|b'}", Request{User: "b"}, true},
		{"user_regex already anchored", "{user_regex: '^bob$'}", Request{User: "bob"}, true},
		{"user_regex search", "{user_regex: '.*bob.*'}", Request{User: "alice-bob-carol"}, true},
		{"user_regex matches empty user", "{user_regex: '.*'}", Request{}, true},

		{"domain", "{domain: example.com}", Request{Host: "example.com"}, true},
		{"domain ignores case", "{domain: Example.COM}", Request{Host: "example.com"}, true},
		{"domain of request in upper case", "{domain: example.com}", Request{Host: "EXAMPLE.com"}, true},
		{"other domain", "{domain: example.com}", Request{Host: "example.net"}, false},
		{"subdomain is another domain", "{domain: example.com}", Request{Host: "a.example.com"}, false},
		{"IPv6 domain in brackets", "{domain: '[2001:db8::1]'}", Request{Host: "2001:db8::1"}, true},
		{"domain_regex", `{domain_regex: '(.+\.)?example\.com'}`, Request{Host: "sip.example.com"}, true},
		{"domain_regex apex", `{domain_regex: '(.+\.)?example\.com'}`, Request{Host: "example.com"}, true},
		{"domain_regex anchored", `{domain_regex: '(.+\.)?example\.com'}`, Request{Host: "example.com.evil.net"}, false},
		{"domain_regex ignores case", `{domain_regex: 'EXAMPLE\.com'}`, Request{Host: "example.com"}, true},

		{"source prefix", "{source: 10.0.0.0/8}", Request{Source: netip.MustParseAddr("10.1.2.3")}, true},
		{"source outside prefix", "{source: 10.0.0.0/8}", Request{Source: netip.MustParseAddr("11.0.0.1")}, false},
		{"source address", "{source: 192.0.2.7}", Request{Source: netip.MustParseAddr("192.0.2.7")}, true},
		{"source address is /32", "{source: 192.0.2.7}", Request{Source: netip.MustParseAddr("192.0.2.8")}, false},
		{"source list", "{source: [10.0.0.0/8, 192.0.2.7]}", Request{Source: netip.MustParseAddr("192.0.2.7")}, true},
		{"source IPv6 prefix", "{source: '2001:db8::/32'}", Request{Source: netip.MustParseAddr("2001:db8:1::5")}, true},
		{"source IPv6 outside", "{source: '2001:db8::/32'}", Request{Source: netip.MustParseAddr("2001:db9::5")}, false},
		{"source IPv6 address", "{source: '2001:db8::7'}", Request{Source: netip.MustParseAddr("2001:db8::7")}, true},
		{"source IPv6 address is /128", "{source: '2001:db8::7'}", Request{Source: netip.MustParseAddr("2001:db8::8")}, false},
		{"IPv4-mapped source", "{source: 10.0.0.0/8}", Request{Source: netip.MustParseAddr("::ffff:10.0.0.1")}, true},
		{"IPv4-mapped prefix", "{source: '::ffff:10.0.0.0/104'}", Request{Source: netip.MustParseAddr("10.0.0.1")}, true},
		{"IPv4 prefix, IPv6 source", "{source: 0.0.0.0/0}", Request{Source: netip.MustParseAddr("2001:db8::1")}, false},
		{"no source", "{source: 0.0.0.0/0}", Request{}, false},

		{"header present", "{header: X-Priority}", Request{HasHeader: headers("X-Priority")}, true},
		{"header any case", "{header: x-priority}", Request{HasHeader: headers("X-PRIORITY")}, true},
		{"header absent", "{header: X-Priority}", Request{HasHeader: headers("Subject")}, false},
		{"headers all present", "{header: [A, B]}", Request{HasHeader: headers("b", "a")}, true},
		{"headers one absent", "{header: [A, B]}", Request{HasHeader: headers("A")}, false},
		{"HasHeader nil", "{header: X-Priority}", Request{}, false},

		{"local_domain true", "{local_domain: true}", Request{LocalDomain: true}, true},
		{"local_domain true, foreign", "{local_domain: true}", Request{}, false},
		{"local_domain false", "{local_domain: false}", Request{}, true},
		{"local_domain false, local", "{local_domain: false}", Request{LocalDomain: true}, false},
		{"to_self true", "{to_self: true}", Request{ToSelf: true}, true},
		{"to_self true, not self", "{to_self: true}", Request{}, false},
		{"to_self false", "{to_self: false}", Request{ToSelf: true}, false},

		{"all conditions", "{method: INVITE, user: bob, domain: a.example, source: 10.0.0.0/8, header: X, local_domain: true, to_self: false}",
			Request{Method: "INVITE", User: "bob", Host: "a.example", Source: netip.MustParseAddr("10.0.0.1"), HasHeader: headers("x"), LocalDomain: true}, true},
		{"all conditions but one", "{method: INVITE, user: bob, domain: a.example, source: 10.0.0.0/8, header: X, local_domain: true, to_self: false}",
			Request{Method: "INVITE", User: "bob", Host: "a.example", Source: netip.MustParseAddr("10.0.0.1"), HasHeader: headers("x"), LocalDomain: true, ToSelf: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := mustParse(t, "routes:\n  - match: "+tc.match+"\n    location: {}\n")
			rule, ok := tab.Match(tc.req)
			if ok != tc.want || ok != (rule != nil) {
				t.Errorf("Match = %v, %v; want %v", rule, ok, tc.want)
			}
		})
	}
}

func TestMatchFirstInOrder(t *testing.T) {
	tab := mustParse(t, `routes:
  - name: bob
    match: {user: bob}
    reply: {code: 486}
  - name: invite
    match: {method: INVITE}
    location: {}
  - name: local
    match: {local_domain: true}
    app: local
  - name: rest
    reply: {code: 403, reason: Relaying denied}
`)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"first rule wins over later ones", Request{Method: "INVITE", User: "bob", LocalDomain: true}, "bob"},
		{"second", Request{Method: "INVITE", User: "alice", LocalDomain: true}, "invite"},
		{"third", Request{Method: "MESSAGE", LocalDomain: true}, "local"},
		{"catch-all", Request{Method: "MESSAGE"}, "rest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule, ok := tab.Match(tc.req)
			if !ok || rule.Name != tc.want {
				t.Fatalf("Match = %+v, %v; want rule %q", rule, ok, tc.want)
			}
			if rule != ruleNamed(tab, tc.want) {
				t.Errorf("Match returned a copy, not the table's rule")
			}
		})
	}
}

func ruleNamed(t *Table, name string) *Rule {
	for i := range t.Rules {
		if t.Rules[i].Name == name {
			return &t.Rules[i]
		}
	}
	return nil
}

func TestMatchNone(t *testing.T) {
	tab := mustParse(t, "routes:\n  - match: {method: INVITE}\n    location: {}\n")
	if rule, ok := tab.Match(Request{Method: "BYE"}); ok || rule != nil {
		t.Errorf("Match = %+v, %v; want no rule", rule, ok)
	}
	var nilTable *Table
	if rule, ok := nilTable.Match(Request{Method: "BYE"}); ok || rule != nil {
		t.Errorf("nil table: Match = %+v, %v", rule, ok)
	}
}

func TestDefault(t *testing.T) {
	tab := Default()
	tests := []struct {
		name string
		req  Request
		want Action
	}{
		{"REGISTER to the registrar", Request{Method: "REGISTER", Host: "example.com", LocalDomain: true}, Action{Kind: Registrar}},
		{"REGISTER for a foreign domain too", Request{Method: "REGISTER", Host: "example.net"}, Action{Kind: Registrar}},
		{"OPTIONS to the proxy", Request{Method: "OPTIONS", Host: "192.0.2.1", ToSelf: true}, Action{Kind: OptionsReply}},
		{"OPTIONS to the proxy by domain", Request{Method: "OPTIONS", Host: "example.com", LocalDomain: true, ToSelf: true}, Action{Kind: OptionsReply}},
		{"OPTIONS to a local user", Request{Method: "OPTIONS", User: "bob", Host: "example.com", LocalDomain: true}, Action{Kind: Location}},
		{"INVITE to a local user", Request{Method: "INVITE", User: "bob", Host: "example.com", LocalDomain: true}, Action{Kind: Location}},
		{"MESSAGE to a local user", Request{Method: "MESSAGE", User: "bob", Host: "example.com", LocalDomain: true}, Action{Kind: Location}},
		{"INVITE elsewhere: no open relay", Request{Method: "INVITE", User: "bob", Host: "example.net"}, Action{Kind: Reply, Code: 403, Reason: "Relaying denied"}},
		{"OPTIONS elsewhere", Request{Method: "OPTIONS", Host: "example.net"}, Action{Kind: Reply, Code: 403, Reason: "Relaying denied"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule, ok := tab.Match(tc.req)
			if !ok {
				t.Fatal("no rule matched: Default() must end with a catch-all")
			}
			if rule.Action != tc.want || rule.OnFailure != nil {
				t.Errorf("rule %q: action %+v on_failure %v; want %+v", rule.Name, rule.Action, rule.OnFailure, tc.want)
			}
		})
	}
	if Default() == tab || &Default().Rules[0] == &tab.Rules[0] {
		t.Error("Default() shares its table between calls")
	}
}

func BenchmarkMatch(b *testing.B) {
	tab, err := Load(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	hdr := headers("Via", "From", "To", "Call-ID", "CSeq")
	reqs := map[string]Request{
		"first": {Method: "INVITE", User: "bob", Host: "example.com", Source: netip.MustParseAddr("10.0.0.1"),
			HasHeader: headers("X-Priority"), LocalDomain: true},
		"regex": {Method: "INVITE", User: "911", Host: "example.com", Source: netip.MustParseAddr("192.0.2.50"), HasHeader: hdr, LocalDomain: true},
		"app":   {Method: "MESSAGE", User: "echo", Host: "example.com", Source: netip.MustParseAddr("2001:db8::1"), HasHeader: hdr, LocalDomain: true},
		"last":  {Method: "INVITE", User: "carol", Host: "example.net", Source: netip.MustParseAddr("::ffff:198.51.100.1"), HasHeader: hdr},
	}
	for name, req := range reqs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := tab.Match(req); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}

func TestAlwaysRegistrar(t *testing.T) {
	tests := []struct {
		name, table, method string
		want                bool
	}{
		{"default table", "", "REGISTER", true},
		{"default table, INVITE", "", "INVITE", false},
		{"a REGISTER rule with a condition first", `routes:
  - match: {method: REGISTER, domain: example.com}
    registrar: {}
  - match: {method: REGISTER}
    relay: sip:registrar.example.net
`, "REGISTER", false},
		{"a catch-all before it", `routes:
  - reply: {code: 403, reason: No}
`, "REGISTER", false},
		{"other methods first, then REGISTER", `routes:
  - match: {method: [INVITE, OPTIONS]}
    location: {}
  - match: {method: [SUBSCRIBE, REGISTER]}
    registrar: {}
  - reply: {code: 403, reason: No}
`, "REGISTER", true},
		{"REGISTER relayed", `routes:
  - match: {method: REGISTER}
    relay: sip:registrar.example.net
`, "REGISTER", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := Default()
			if tc.table != "" {
				var err error
				if tab, err = Parse([]byte(tc.table), "t.yaml"); err != nil {
					t.Fatal(err)
				}
			}
			if got := tab.AlwaysRegistrar(tc.method); got != tc.want {
				t.Errorf("AlwaysRegistrar(%q) = %v, want %v", tc.method, got, tc.want)
			}
		})
	}
}
