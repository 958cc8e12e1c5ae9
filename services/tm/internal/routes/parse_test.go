package routes

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestLoadExample(t *testing.T) {
	tab, err := Load(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if tab.File != filepath.Join("testdata", "example.yaml") {
		t.Errorf("File = %q", tab.File)
	}
	yes, no := true, false
	want := []Rule{
		{Name: "busy-bob", Line: 2, Match: Match{
			Methods: []string{"INVITE"}, User: "bob", Domain: "example.com",
			Sources: []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32"),
			},
			Headers: []string{"X-Priority"}, LocalDomain: &yes, ToSelf: &no,
		}, Action: Action{Kind: Reply, Code: 486, Reason: "Busy Here"}},
		{Name: "emergency", Line: 12, Match: Match{Methods: []string{"INVITE", "MESSAGE"}},
			Action: Action{Kind: Relay, URI: "sip:psap.example.net;transport=tcp"}},
		{Name: "rule 3", Line: 15, Match: Match{Methods: []string{"INVITE"}, LocalDomain: &yes},
			Action: Action{Kind: Location}, OnFailure: &Action{Kind: Relay, URI: "sip:voicemail@192.0.2.10:5070"}},
		{Name: "rule 4", Line: 19, Match: Match{Methods: []string{"REGISTER"}}, Action: Action{Kind: Registrar}},
		{Name: "rule 5", Line: 21, Match: Match{Methods: []string{"OPTIONS"}, ToSelf: &yes}, Action: Action{Kind: OptionsReply}},
		{Name: "rule 6", Line: 23, Match: Match{Methods: []string{"MESSAGE"}, User: "echo"}, Action: Action{Kind: App, App: "echo"}},
		{Name: "rule 7", Line: 25, Action: Action{Kind: Reply, Code: 403, Reason: "Relaying denied"}},
	}
	if len(tab.Rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(tab.Rules), len(want))
	}
	for i := range want {
		got := tab.Rules[i]
		if i == 1 {
			if got.Match.UserRE == nil || got.Match.UserRE.String() != `^(?:112|911)$` {
				t.Errorf("rule 2 UserRE = %v", got.Match.UserRE)
			}
			got.Match.UserRE = nil
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("rule %d:\n got %+v\nwant %+v", i+1, got, want[i])
		}
	}
}

// TestDocExample keeps the example of the package doc equal to
// testdata/example.yaml, which TestLoadExample loads.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for line := range strings.Lines(string(doc)) {
		switch {
		case strings.HasPrefix(line, "//\t"):
			in = true
			block = append(block, strings.TrimPrefix(line, "//\t"))
		case in:
			if got := strings.Join(block, ""); got != string(file) {
				t.Fatalf("doc.go example differs from testdata/example.yaml:\n%s", got)
			}
			return
		}
	}
	t.Fatal("no example in doc.go")
}

func TestDefaultIsDefaultYAML(t *testing.T) {
	tab, err := Load(filepath.Join("testdata", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	if def.File != "" {
		t.Errorf("Default().File = %q", def.File)
	}
	if len(tab.Rules) != len(def.Rules) {
		t.Fatalf("default.yaml has %d rules, Default() %d", len(tab.Rules), len(def.Rules))
	}
	for i := range def.Rules {
		got := tab.Rules[i]
		got.Line = 0
		if !reflect.DeepEqual(got, def.Rules[i]) {
			t.Errorf("rule %d:\n file    %+v\n Default %+v", i+1, got, def.Rules[i])
		}
	}
}

func TestParseDefaults(t *testing.T) {
	tab, err := Parse([]byte(`routes:
  - match: {method: [invite, Bye], domain: '[2001:DB8::1]'}
    reply: {code: 404}
  - match: {user: 1000, source: ['::ffff:10.0.0.0/104', 192.0.2.9/24]}
    reply: {code: 699}
  - match: {}
    location:
`), "")
	if err != nil {
		t.Fatal(err)
	}
	r := tab.Rules
	if tab.File != "<routes>" || r[0].Name != "rule 1" || r[2].Name != "rule 3" {
		t.Errorf("file %q names %q %q", tab.File, r[0].Name, r[2].Name)
	}
	if !reflect.DeepEqual(r[0].Match.Methods, []string{"INVITE", "BYE"}) || r[0].Match.Domain != "2001:db8::1" {
		t.Errorf("rule 1 match %+v", r[0].Match)
	}
	if r[0].Action.Reason != "Not Found" || r[1].Action.Reason != "Global Failure" {
		t.Errorf("default reasons %q %q", r[0].Action.Reason, r[1].Action.Reason)
	}
	wantSrc := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24")}
	if r[1].Match.User != "1000" || !reflect.DeepEqual(r[1].Match.Sources, wantSrc) {
		t.Errorf("rule 2 match %+v", r[1].Match)
	}
	if r[2].Action.Kind != Location || !r[2].Match.empty() {
		t.Errorf("rule 3 %+v", r[2])
	}
}

func TestParseErrors(t *testing.T) {
	const head = "routes:\n" // line 1; the first rule starts on line 2
	tests := []struct {
		name string
		in   string
		line int
		want string
	}{
		{"empty file", "", 1, "empty file"},
		{"comments only", "# nothing\n", 1, "empty file"},
		{"syntax", head + "  - reply: {code: 403\n", 2, "did not find expected"},
		{"syntax without yaml line", head + "  - reply: a: b\n", 2, "mapping values are not allowed"},
		{"tab indent", head + "  - reply: {code: 403}\n\t- x\n", 3, "cannot start any token"},
		{"second document", head + "  - reply: {code: 403}\n---\nroutes: []\n", 3, "second YAML document"},
		{"top level list", "- reply: {code: 403}\n", 1, "top level: want a mapping"},
		{"top level unknown key", head + "  - reply: {code: 403}\nrouting: x\n", 3, `unknown key "routing"`},
		{"missing routes", "{}\n", 1, "missing routes"},
		{"empty routes", "routes: []\n", 1, "routes: empty list"},
		{"null routes", "\nroutes:\n", 2, "routes: empty list"},
		{"routes not a list", "routes: {reply: {code: 403}}\n", 1, "routes: want a list"},
		{"rule not a mapping", head + "  - INVITE\n", 2, `rule 1: want a mapping, got "INVITE"`},
		{"unknown rule key", head + "  - reply: {code: 403}\n    when: x\n", 3, `rule 1: unknown key "when"`},
		{"repeated rule key", head + "  - match: {user: a}\n    match: {user: b}\n    location: {}\n", 3, `key "match" repeated (first at line 2)`},
		{"no action", head + "  - reply: {code: 403}\n  - name: x\n    match: {method: INVITE}\n", 3, `rule 2 ("x"): no action`},
		{"two actions", head + "  - location: {}\n    reply: {code: 403}\n", 3, "reply: a second action (location at line 2)"},
		{"unknown match key", head + "  - match:\n      methd: INVITE\n    location: {}\n", 3, `match: unknown key "methd"`},
		{"null match", head + "  - match:\n    location: {}\n", 2, "match: empty"},
		{"match not a mapping", head + "  - match: INVITE\n    location: {}\n", 2, "match: want a mapping"},
		{"user and user_regex", head + "  - match:\n      user: bob\n      user_regex: b.b\n    location: {}\n", 4, "user and user_regex both set"},
		{"domain and domain_regex", head + "  - match:\n      domain_regex: x\n      domain: a.b\n    location: {}\n", 4, "domain and domain_regex both set"},
		{"bad user regex", head + "  - match: {user_regex: '(ab'}\n    location: {}\n", 2, "match.user_regex: error parsing regexp: missing closing )"},
		{"bad domain regex", head + "  - location: {}\n    match:\n      domain_regex: '[a-'\n", 4, "match.domain_regex: error parsing regexp"},
		{"bad prefix length", head + "  - match: {source: 10.0.0.0/33}\n    location: {}\n", 2, `match.source: "10.0.0.0/33": not a CIDR prefix`},
		{"bad address", head + "  - match:\n      source: [10.0.0.1, 10.0.0.256]\n    location: {}\n", 3, `"10.0.0.256": not an IP address`},
		{"zoned address", head + "  - match: {source: 'fe80::1%eth0'}\n    location: {}\n", 2, "zone"},
		{"host name source", head + "  - match: {source: example.com}\n    location: {}\n", 2, "not an IP address or CIDR prefix"},
		{"bad method", head + "  - match: {method: 'IN VITE'}\n    location: {}\n", 2, `match.method: "IN VITE" is not a method name`},
		{"bad method in list", head + "  - match:\n      method:\n        - INVITE\n        - 'BYE;'\n    location: {}\n", 5, `"BYE;" is not a method name`},
		{"empty method list", head + "  - match: {method: []}\n    location: {}\n", 2, "match.method: empty list"},
		{"method a mapping", head + "  - match: {method: {a: b}}\n    location: {}\n", 2, "match.method: want a string, got a mapping"},
		{"bad header", head + "  - match: {header: 'X Foo'}\n    location: {}\n", 2, `match.header: "X Foo" is not a header name`},
		{"domain with port", head + "  - match: {domain: 'example.com:5060'}\n    location: {}\n", 2, "not a host name or IP address"},
		{"domain as URI", head + "  - match: {domain: 'sip:example.com'}\n    location: {}\n", 2, "not a host name"},
		{"empty user", head + "  - match: {user: ''}\n    location: {}\n", 2, "match.user: empty"},
		{"yes is not a boolean", head + "  - match: {local_domain: yes}\n    location: {}\n", 2, `match.local_domain: want true or false, got "yes"`},
		{"to_self a number", head + "  - match: {to_self: 1}\n    location: {}\n", 2, "match.to_self: want true or false"},
		{"reply code 200", head + "  - reply: {code: 200}\n", 2, "reply.code: 200: want 300-699"},
		{"reply code 180", head + "  - reply: {code: 180}\n", 2, "reply.code: 180: want 300-699"},
		{"reply code 700", head + "  - reply: {code: 700}\n", 2, "reply.code: 700: want 300-699"},
		{"reply code text", head + "  - reply: {code: busy}\n", 2, `reply.code: want a number 300-699, got "busy"`},
		{"reply code quoted", head + "  - reply: {code: '486'}\n", 2, "reply.code: want a number"},
		{"reply without code", head + "  - reply: {reason: Busy}\n", 2, "reply: code missing"},
		{"reply a number", head + "  - reply: 486\n", 2, `reply: want a mapping, got "486"`},
		{"reply unknown key", head + "  - reply:\n      code: 486\n      phrase: Busy\n", 4, `reply: unknown key "phrase"`},
		{"reason with CRLF", head + "  - reply: {code: 486, reason: \"Busy\\r\\nX-Evil: 1\"}\n", 2, "reply.reason: want at most 128 printable characters"},
		{"relay tel URI", head + "  - relay: 'tel:+4930123'\n", 2, `relay: "tel:+4930123": want a sip: or sips: URI`},
		{"relay http URI", head + "  - relay: http://example.com/\n", 2, "want a sip: or sips: URI"},
		{"relay without host", head + "  - relay: 'sip:'\n", 2, "relay: sipmsg: bad URI: missing host"},
		{"relay user without host", head + "  - relay: 'sip:bob@'\n", 2, "missing host"},
		{"relay not a URI", head + "  - relay: voicemail\n", 2, "relay: sipmsg: bad URI: missing scheme"},
		{"relay a mapping", head + "  - relay: {uri: 'sip:a.b'}\n", 2, "relay: want a string, got a mapping"},
		{"location with a value", head + "  - location: yes\n", 2, "location: takes no value, write location: {}"},
		{"registrar with keys", head + "  - registrar: {a: 1}\n", 2, "registrar: takes no value"},
		{"bad app name", head + "  - app: a.b\n", 2, `app: "a.b": want 1-64 characters`},
		{"long app name", head + "  - app: " + strings.Repeat("a", 65) + "\n", 2, "want 1-64 characters"},
		{"on_failure location", head + "  - location: {}\n    on_failure:\n      location: {}\n", 4, "on_failure: location not allowed: want relay or reply"},
		{"on_failure app", head + "  - relay: sip:a.example\n    on_failure: {app: x}\n", 3, "on_failure: app not allowed"},
		{"on_failure two actions", head + "  - location: {}\n    on_failure:\n      reply: {code: 480}\n      relay: sip:vm.example\n", 5, "on_failure: relay: a second action (reply at line 4)"},
		{"on_failure empty", head + "  - location: {}\n    on_failure: {}\n", 3, "on_failure: no action"},
		{"on_failure unknown key", head + "  - location: {}\n    on_failure: {forward: sip:x.y}\n", 3, `on_failure: unknown key "forward"`},
		{"on_failure bad relay", head + "  - location: {}\n    on_failure: {relay: 'sip:'}\n", 3, "relay: sipmsg: bad URI"},
		{"on_failure after reply", head + "  - reply: {code: 486}\n    on_failure: {reply: {code: 480}}\n", 3, "on_failure: only after location or relay"},
		{"bad name", head + "  - name: \"a\\tb\"\n    location: {}\n", 2, "name: want at most 64 printable"},
		{"name a list", head + "  - name: [a]\n    location: {}\n", 2, "name: want a string, got a list"},
		{"repeated name", head + "  - name: a\n    location: {}\n  - name: a\n    reply: {code: 404}\n", 4, `rule name "a" already used at line 2`},
		{"named like a default", head + "  - location: {}\n  - name: rule 1\n    reply: {code: 404}\n", 3, `rule name "rule 1" already used`},
		{"unreachable", head + "  - reply: {code: 403}\n  - match: {method: INVITE}\n    location: {}\n", 3, "rule 2 is unreachable: the rule at line 2 matches every request"},
		{"unreachable after match {}", head + "  - match: {}\n    location: {}\n  - name: late\n    reply: {code: 404}\n", 4, `rule 2 ("late") is unreachable`},
		{"alias", head + "  - match: &m {method: INVITE}\n    location: {}\n  - match: *m\n    reply: {code: 404}\n", 4, "alias *m: aliases are not supported"},
		{"merge key", head + "  - <<: {location: {}}\n", 2, `unknown key "<<"`},
		{"binary tag", head + "  - app: !!binary ZWNobw==\n", 2, "app: want a string"},
		{"complex key", head + "  - ? [a]\n    : b\n    location: {}\n", 2, "a key must be a plain name"},
		{"many problems", head + strings.Repeat("  - app: a.b\n", 12), 12, "too many problems: 2 more not shown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := Parse([]byte(tc.in), "r.yaml")
			if err == nil {
				t.Fatalf("parsed %+v; want an error", tab)
			}
			prefix := "r.yaml:" + strconv.Itoa(tc.line) + ": "
			var found bool
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, prefix) && strings.Contains(line, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("want a line %q...%q in\n%v", prefix, tc.want, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "r.yaml" || e.Line < 1 {
				t.Errorf("first error %#v is not a located *Error", e)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`routes:
  - match: {method: 'A B', source: 300.1.1.1}
    reply: {code: 200}
  - relay: tel:1
`), "r.yaml")
	want := []string{
		`r.yaml:2: match.method: "A B" is not a method name`,
		`r.yaml:2: match.source: "300.1.1.1"`,
		"r.yaml:3: reply.code: 200",
		`r.yaml:4: relay: "tel:1"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("routes:\n  - relay: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+":2: relay:") {
		t.Errorf("Load(bad) = %v", err)
	}
}
