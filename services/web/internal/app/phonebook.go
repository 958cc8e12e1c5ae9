package app

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Limits of a phonebook entry.
const (
	MaxEntryName   = 128 // runes
	MaxEntryTarget = 256 // bytes
	MaxSearch      = 128 // bytes of a search
)

// ErrInvalid reports bad input; the message names the field.
var ErrInvalid = errors.New("web: invalid")

// FieldError is ErrInvalid naming the form field at fault.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Entry is one phonebook entry.
type Entry struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Target string `json:"target"` // SIP URI or a number
}

// CleanEntry trims and checks name and target: the name is any UTF-8 text
// without control characters; the target is a sip:/sips: URI or a number
// (digits with an optional leading +, and * #), which the click-to-dial
// service resolves in the caller's domain.
func CleanEntry(name, target string) (Entry, error) {
	name, target = strings.TrimSpace(name), strings.TrimSpace(target)
	switch {
	case name == "":
		return Entry{}, &FieldError{"name", "empty"}
	case !utf8.ValidString(name):
		return Entry{}, &FieldError{"name", "is not valid UTF-8"}
	case utf8.RuneCountInString(name) > MaxEntryName:
		return Entry{}, &FieldError{"name", fmt.Sprintf("longer than %d characters", MaxEntryName)}
	case strings.ContainsFunc(name, unicode.IsControl):
		return Entry{}, &FieldError{"name", "has control characters"}
	}
	if err := CheckTarget(target); err != nil {
		return Entry{}, err
	}
	return Entry{Name: name, Target: target}, nil
}

// CheckTarget reports why t is not a SIP URI or number.
func CheckTarget(t string) error {
	switch {
	case t == "":
		return &FieldError{"target", "empty: give a SIP URI (sip:bob@example.com) or a number"}
	case len(t) > MaxEntryTarget:
		return &FieldError{"target", fmt.Sprintf("longer than %d bytes", MaxEntryTarget)}
	case isNumber(t):
		return nil
	}
	u, err := sipmsg.ParseURI(t)
	if err != nil || (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" {
		return &FieldError{"target", fmt.Sprintf("%q is not a SIP URI (sip:bob@example.com) or a number", t)}
	}
	if strings.ContainsFunc(t, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return &FieldError{"target", fmt.Sprintf("%q has spaces or control characters", t)}
	}
	return nil
}

func isNumber(t string) bool {
	s := strings.TrimPrefix(t, "+")
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '*' || c == '#') {
			return false
		}
	}
	return true
}

// Search returns the entries whose name or target contains q (case
// insensitive), sorted by name then target; all of them for q "".
func Search(entries []Entry, q string) []Entry {
	q = strings.ToLower(strings.TrimSpace(q))
	type keyed struct {
		key string
		e   Entry
	}
	ks := make([]keyed, 0, len(entries))
	for _, e := range entries {
		k := strings.ToLower(e.Name)
		if q == "" || strings.Contains(k, q) || strings.Contains(strings.ToLower(e.Target), q) {
			ks = append(ks, keyed{k, e})
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].key != ks[j].key {
			return ks[i].key < ks[j].key
		}
		return ks[i].e.Target < ks[j].e.Target
	})
	out := make([]Entry, len(ks))
	for i := range ks {
		out[i] = ks[i].e
	}
	return out
}
