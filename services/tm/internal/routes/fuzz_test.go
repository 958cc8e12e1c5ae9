package routes

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; an error is a located *Error; a table that
// parses holds only valid rules and matches any request without panicking.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.yaml", "default.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"routes: []\n",
		"routes:\n  - match: {user_regex: '(a+)+$', domain_regex: '.*', source: '::ffff:10.0.0.0/104'}\n    relay: sip:a.b\n",
		"routes:\n  - match: &m {method: INVITE}\n    location: {}\n  - match: *m\n    location: {}\n",
		"routes:\n  - reply: {code: 0x1e6, reason: \"\\u00e9\"}\n",
		"routes:\n  - location: {}\n    on_failure: {reply: {code: 480}}\n  - reply: a: b\n",
		"routes:\n  - reply: {code: 403\n",
		"routes:\n - app: x\n---\n",
	} {
		f.Add([]byte(s))
	}
	reqs := []Request{
		{},
		{Method: "INVITE", User: "bob", Host: "example.com", Source: netip.MustParseAddr("10.0.0.1"), LocalDomain: true},
		{Method: "OPTIONS", Host: "2001:db8::1", Source: netip.MustParseAddr("::ffff:192.0.2.7"), ToSelf: true,
			HasHeader: func(string) bool { return true }},
		{Method: "REGISTER", User: "+4930123", Host: "EXAMPLE.NET", Source: netip.MustParseAddr("2001:db8::7")},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
				t.Fatalf("error without file:line: %q", err)
			}
			return
		}
		if len(tab.Rules) == 0 {
			t.Fatal("a table without rules parsed")
		}
		for _, r := range tab.Rules {
			checkAction(t, r.Action)
			if r.OnFailure != nil {
				if k := r.OnFailure.Kind; k != Relay && k != Reply {
					t.Fatalf("on_failure %s parsed", k)
				}
				checkAction(t, *r.OnFailure)
			}
			if r.Line < 1 || r.Name == "" {
				t.Fatalf("rule without line or name: %+v", r)
			}
		}
		for _, req := range reqs {
			tab.Match(req)
		}
	})
}

func checkAction(t *testing.T, a Action) {
	t.Helper()
	switch a.Kind {
	case Location, Registrar, OptionsReply:
	case Relay:
		if !strings.HasPrefix(strings.ToLower(a.URI), "sip") {
			t.Fatalf("relay to %q parsed", a.URI)
		}
	case Reply:
		if a.Code < 300 || a.Code > 699 || a.Reason == "" || strings.ContainsAny(a.Reason, "\r\n") {
			t.Fatalf("reply %d %q parsed", a.Code, a.Reason)
		}
	case App:
		if !appNameRE.MatchString(a.App) {
			t.Fatalf("app %q parsed", a.App)
		}
	default:
		t.Fatalf("action kind %q parsed", a.Kind)
	}
}
