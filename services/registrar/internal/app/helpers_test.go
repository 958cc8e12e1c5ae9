package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// now is the tests' clock.
var now = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// baseHeaders are the header lines of a plain REGISTER.
var baseHeaders = []string{
	"Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7;rport",
	"Max-Forwards: 70",
	"To: Alice <sip:alice@example.com>",
	"From: Alice <sip:alice@example.com>;tag=456248",
	"Call-ID: 843817637684230@998sdasdh09",
	"CSeq: 1826 REGISTER",
}

// register builds a REGISTER from baseHeaders edited by mods: "-Name"
// deletes every row of Name, "Name: v" replaces the first base row of
// Name (or is appended when there is none, or it was replaced already),
// so several "Contact: ..." mods make several rows.
func register(t testing.TB, mods ...string) *sipmsg.Msg {
	t.Helper()
	return build(t, "REGISTER sip:example.com SIP/2.0", mods...)
}

func build(t testing.TB, start string, mods ...string) *sipmsg.Msg {
	t.Helper()
	lines := append([]string(nil), baseHeaders...)
	replaced := map[string]bool{}
	for _, mod := range mods {
		if name, ok := strings.CutPrefix(mod, "-"); ok {
			lines = slices.DeleteFunc(lines, func(l string) bool { return headerName(l) == strings.ToLower(name) })
			continue
		}
		name := headerName(mod)
		done := false
		if !replaced[name] {
			for i, l := range lines {
				if headerName(l) == name {
					lines[i], done = mod, true
					break
				}
			}
		}
		replaced[name] = true
		if !done {
			lines = append(lines, mod)
		}
	}
	raw := start + "\r\n" + strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
	m, err := sipmsg.Parse([]byte(raw), sipmsg.Stream)
	if err != nil {
		t.Fatalf("parse test message: %v\n%s", err, raw)
	}
	return m
}

func headerName(line string) string {
	name, _, _ := strings.Cut(line, ":")
	return strings.ToLower(strings.TrimSpace(name))
}
