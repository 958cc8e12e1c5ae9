package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// Exec rules select events by CloudEvent type: a type ("sipbus.call.missed.v1")
// or a prefix ending in '*' ("sipbus.call.*"). Only the events of the
// stream that happen once per call or per binding can run a program: SIP
// message events (sipbus.sip.*, one per datagram) cannot, a program per
// message being a fork bomb any caller could set off.
var execSubjects = []struct {
	typePrefix string // types starting with this
	filter     func(typ string) string
}{
	{"sipbus.call.", func(typ string) string { return "call." + middle(typ, "sipbus.call.") + ".*" }},
	{"sipbus.reg.contact.", func(typ string) string { return "reg.contact." + middle(typ, "sipbus.reg.contact.") + ".*" }},
	{"sipbus.notify.", func(typ string) string { return "notify." + middle(typ, "sipbus.notify.") + ".*" }},
}

// middle is the event name of a type: "missed" of sipbus.call.missed.v1,
// "*" of a prefix pattern.
func middle(typ, prefix string) string {
	rest := strings.TrimPrefix(typ, prefix)
	if rest == "" || strings.HasSuffix(rest, "*") {
		return "*"
	}
	if i := strings.LastIndex(rest, ".v"); i > 0 {
		rest = rest[:i]
	}
	return bus.SafeToken(rest)
}

// ErrExecEvents reports an event pattern an exec rule may not use.
var ErrExecEvents = errors.New("notifier: exec events")

// ExecFilters maps a rule's event patterns to the stream subjects to
// consume. A pattern outside call, reg.contact and notify events is an
// error naming it.
func ExecFilters(patterns []string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		if p == "*" {
			p = "sipbus.*"
		}
		var matched []string
		for _, s := range execSubjects {
			switch {
			case strings.HasPrefix(p, s.typePrefix):
				matched = append(matched, s.filter(p))
			case strings.HasSuffix(p, "*") && strings.HasPrefix(s.typePrefix, strings.TrimSuffix(p, "*")):
				matched = append(matched, s.filter(s.typePrefix+"*"))
			}
		}
		if len(matched) == 0 {
			return nil, fmt.Errorf("%w: %q: want a type or a prefix ending in * of sipbus.call.*, sipbus.reg.contact.* or sipbus.notify.* events (SIP message events cannot run programs)", ErrExecEvents, p)
		}
		for _, m := range matched {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	// Filters of one consumer may not overlap: keep the widest
	// ("call.*.*" covers "call.missed.*").
	var kept []string
	for _, f := range out {
		i := strings.LastIndexByte(strings.TrimSuffix(f, ".*"), '.')
		if wide := f[:i] + ".*.*"; f != wide && slices.Contains(out, wide) {
			continue
		}
		kept = append(kept, f)
	}
	return kept, nil
}

// MatchType reports whether typ matches one of patterns.
func MatchType(patterns []string, typ string) bool {
	for _, p := range patterns {
		if p == "*" || p == typ || strings.HasSuffix(p, "*") && strings.HasPrefix(typ, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// EventInfo are the attributes of the event a program runs on.
type EventInfo struct {
	ID, Type, Source, Subject string
	Time                      time.Time
}

// Limits of the SIP_* variables.
const (
	maxEnvValue = 4096
	maxEnvVars  = 96
)

// ExecEnv returns the SIP_* variables of a program run on an event (data:
// its JSON), the heirs of the seed's exec module (SIP_HF_<header>,
// SIP_RURI, SIP_USER, ...):
//
//	SIP_EVENT_ID, SIP_EVENT_TYPE, SIP_EVENT_SOURCE, SIP_EVENT_SUBJECT,
//	SIP_EVENT_TIME              the CloudEvent's attributes
//	SIP_<FIELD>                 each top-level field of the data that is a
//	                            string, number or boolean (SIP_CALL_ID,
//	                            SIP_REASON, SIP_STATUS, SIP_AOR, ...)
//	SIP_<FIELD>_<SUB>           each such field of an object one level down
//	                            (SIP_CALLER_DISPLAY, SIP_CALLER_URI, ...)
//	SIP_HF_FROM, SIP_HF_TO      call events: the caller and callee as a
//	                            From / To header value ("Name" <uri>)
//	SIP_HF_CALLID               call events: the Call-ID
//	SIP_RURI, SIP_USER          call events: the Request-URI and its user
//	SIP_REASON_TEXT             call.missed: the reason in words
//	SIP_CALLEE_AOR, SIP_CALLEE_EMAIL, SIP_CALLEE_NAME, SIP_CALLEE_TZ
//	                            when the callee is a subscriber (callee
//	                            non-nil)
//
// Names are upper case [A-Z0-9_]. Values are text: control characters
// (CR, LF, NUL, ESC, ...) become spaces, invalid UTF-8 becomes U+FFFD, at
// most 4096 bytes; they are passed to the program as its environment,
// never to a shell. The event itself is on the program's stdin.
func ExecEnv(ev EventInfo, data []byte, callee *subscriber.Subscriber) []string {
	vars := map[string]string{}
	set := func(name, v string) {
		if _, dup := vars[name]; !dup && len(vars) < maxEnvVars {
			vars[name] = envValue(v)
		}
	}
	set("SIP_EVENT_ID", ev.ID)
	set("SIP_EVENT_TYPE", ev.Type)
	set("SIP_EVENT_SOURCE", ev.Source)
	set("SIP_EVENT_SUBJECT", ev.Subject)
	if !ev.Time.IsZero() {
		set("SIP_EVENT_TIME", ev.Time.UTC().Format(time.RFC3339Nano))
	}
	if strings.HasPrefix(ev.Type, "sipbus.call.") {
		var c struct {
			CallID     string       `json:"call_id"`
			Caller     events.Party `json:"caller"`
			Callee     events.Party `json:"callee"`
			RequestURI string       `json:"request_uri"`
			Reason     string       `json:"reason"`
		}
		if json.Unmarshal(data, &c) == nil {
			set("SIP_HF_FROM", headerValue(c.Caller))
			set("SIP_HF_TO", headerValue(c.Callee))
			set("SIP_HF_CALLID", c.CallID)
			ruri := c.RequestURI
			if ruri == "" {
				ruri = c.Callee.URI
			}
			set("SIP_RURI", ruri)
			if user, _, err := subscriber.ParseAOR(ruri); err == nil {
				set("SIP_USER", user)
			}
			if ev.Type == events.TypeCallMissed {
				set("SIP_REASON_TEXT", ReasonWords(c.Reason))
			}
		}
	}
	if callee != nil {
		set("SIP_CALLEE_AOR", callee.AOR)
		set("SIP_CALLEE_EMAIL", callee.Email)
		set("SIP_CALLEE_NAME", callee.Name)
		tz := callee.TZ
		if tz == "" {
			tz = "UTC"
		}
		set("SIP_CALLEE_TZ", tz)
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) == nil {
		keys := make([]string, 0, len(top))
		for k := range top {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			name := "SIP_" + envName(k)
			if v, ok := scalar(top[k]); ok {
				set(name, v)
				continue
			}
			var sub map[string]json.RawMessage
			if json.Unmarshal(top[k], &sub) != nil {
				continue
			}
			subKeys := make([]string, 0, len(sub))
			for sk := range sub {
				subKeys = append(subKeys, sk)
			}
			slices.Sort(subKeys)
			for _, sk := range subKeys {
				if v, ok := scalar(sub[sk]); ok {
					set(name+"_"+envName(sk), v)
				}
			}
		}
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// headerValue writes a party the way a From or To header holds it.
func headerValue(p events.Party) string {
	if p.URI == "" {
		return ""
	}
	if p.Display == "" {
		return "<" + p.URI + ">"
	}
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p.Display) // RFC 3261 quoted-string
	return `"` + q + `" <` + p.URI + ">"
}

// scalar renders a JSON string, number or boolean as text.
func scalar(raw json.RawMessage) (string, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strings.TrimSpace(string(raw)), true
	}
	return "", false
}

// envName upper-cases a JSON key and maps anything outside [A-Z0-9_] to '_'.
func envName(k string) string {
	if len(k) > 48 {
		k = k[:48]
	}
	b := []byte(strings.ToUpper(k))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// envValue makes v safe as an environment value: valid UTF-8, no control
// character (NUL would end it, CR and LF would split a line in a script's
// output), at most maxEnvValue bytes.
func envValue(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) > maxEnvValue {
		v = v[:maxEnvValue]
		for len(v) > 0 && !utf8.ValidString(v) {
			v = v[:len(v)-1]
		}
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, v)
}

// EventJSON is the event as a program reads it on stdin: the CloudEvents
// JSON format (structured mode), its data as published.
func EventJSON(ev EventInfo, data []byte) []byte {
	m := map[string]any{
		"specversion": bus.SpecVersion, "id": ev.ID, "source": ev.Source, "type": ev.Type,
		"datacontenttype": bus.ContentTypeJSON,
	}
	if ev.Subject != "" {
		m["subject"] = ev.Subject
	}
	if !ev.Time.IsZero() {
		m["time"] = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	if json.Valid(data) {
		m["data"] = json.RawMessage(data)
	}
	b, _ := json.Marshal(m)
	return append(b, '\n')
}
