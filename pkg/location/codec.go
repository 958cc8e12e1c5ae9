package location

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// record is the stored form of a Binding in Redis: a JSON object per hash
// field. The AOR is not stored (it is in the key); times are Unix
// milliseconds (expires 0 = permanent), q is q*1000. The Lua scripts read
// expires, callid, cseq, instance and regid (with cjson).
//
// encode writes the object by hand and decode reads back what encode
// writes without reflection (a REGISTER encodes its contacts and decodes
// every binding of its AOR; encoding/json was a quarter of
// location.Apply's CPU). Anything else (a record written by another
// version, escapes, unknown keys) goes through encoding/json, which stays
// the reference: FuzzCodec checks that both agree.
type record struct {
	Contact    string   `json:"contact"`
	Q          int      `json:"q"`
	Expires    int64    `json:"expires"`
	CallID     string   `json:"callid"`
	CSeq       uint32   `json:"cseq"`
	Path       []string `json:"path,omitempty"`
	Received   string   `json:"received,omitempty"`
	Transport  string   `json:"transport,omitempty"`
	Edge       string   `json:"edge,omitempty"`
	UserAgent  string   `json:"ua,omitempty"`
	InstanceID string   `json:"instance,omitempty"`
	RegID      int      `json:"regid,omitempty"`
	Updated    int64    `json:"updated"`
}

// encode returns the stored form of a normalised binding.
func encode(b *Binding) string {
	n := 128 + len(b.Contact) + len(b.CallID) + len(b.Received) + len(b.Edge) + len(b.UserAgent) + len(b.InstanceID)
	for _, p := range b.Path {
		n += len(p) + 3
	}
	buf := make([]byte, 0, n)
	buf = append(buf, `{"contact":`...)
	buf = appendString(buf, b.Contact)
	buf = append(buf, `,"q":`...)
	buf = strconv.AppendInt(buf, int64(qMilli(b.Q)), 10)
	buf = append(buf, `,"expires":`...)
	buf = strconv.AppendInt(buf, unixMilli(b.Expires), 10)
	buf = append(buf, `,"callid":`...)
	buf = appendString(buf, b.CallID)
	buf = append(buf, `,"cseq":`...)
	buf = strconv.AppendUint(buf, uint64(b.CSeq), 10)
	if len(b.Path) > 0 {
		buf = append(buf, `,"path":[`...)
		for i, p := range b.Path {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, p)
		}
		buf = append(buf, ']')
	}
	buf = appendOpt(buf, `,"received":`, b.Received)
	buf = appendOpt(buf, `,"transport":`, b.Transport)
	buf = appendOpt(buf, `,"edge":`, b.Edge)
	buf = appendOpt(buf, `,"ua":`, b.UserAgent)
	buf = appendOpt(buf, `,"instance":`, b.InstanceID)
	if b.RegID != 0 {
		buf = append(buf, `,"regid":`...)
		buf = strconv.AppendInt(buf, int64(b.RegID), 10)
	}
	buf = append(buf, `,"updated":`...)
	buf = strconv.AppendInt(buf, unixMilli(b.Updated), 10)
	buf = append(buf, '}')
	return string(buf)
}

func appendOpt(buf []byte, key, s string) []byte {
	if s == "" {
		return buf
	}
	return appendString(append(buf, key...), s)
}

// appendString appends s as a JSON string as encoding/json writes it with
// HTML escaping off: quote, backslash and control characters escaped,
// invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
			if size > 1 && r != '\u2028' && r != '\u2029' {
				i += size // valid UTF-8, written as it is
				continue
			}
		}
		buf = appendEscape(append(buf, s[start:i]...), r)
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendEscape appends the escape of r, a character appendString does not
// write as it is (utf8.RuneError stands for an invalid byte).
func appendEscape(buf []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	switch r {
	case '"', '\\':
		return append(buf, '\\', byte(r))
	case '\n':
		return append(buf, '\\', 'n')
	case '\r':
		return append(buf, '\\', 'r')
	case '\t':
		return append(buf, '\\', 't')
	}
	return append(buf, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// decode parses a stored binding of aor.
func decode(aor, raw string) (Binding, error) {
	r, ok := decodeFast(raw)
	if !ok {
		r = record{}
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return Binding{}, fmt.Errorf("location: decode binding of %s: %w", aor, err)
		}
	}
	return Binding{
		AOR:        aor,
		Contact:    r.Contact,
		Q:          float64(r.Q) / 1000,
		Expires:    fromMilli(r.Expires),
		CallID:     r.CallID,
		CSeq:       r.CSeq,
		Path:       r.Path,
		Received:   r.Received,
		Transport:  r.Transport,
		Edge:       r.Edge,
		UserAgent:  r.UserAgent,
		InstanceID: r.InstanceID,
		RegID:      r.RegID,
		Updated:    fromMilli(r.Updated),
	}, nil
}

// decodeFast reads a record in the shape encode writes: an object of known
// keys with strings free of escapes and integers in range, nothing else.
// A key given twice keeps its last value, as with encoding/json. It
// reports false for anything else; the caller then asks encoding/json,
// which also gives the error.
func decodeFast(s string) (r record, ok bool) {
	d := scanner{s: s}
	if !d.byte('{') {
		return r, false
	}
	for first := true; ; first = false {
		if d.byte('}') {
			return r, d.i == len(s)
		}
		if !first && !d.byte(',') {
			return r, false
		}
		key, ok := d.str()
		if !ok || !d.byte(':') {
			return r, false
		}
		switch key {
		case "contact":
			r.Contact, ok = d.str()
		case "q":
			r.Q, ok = int32Range(d.num())
		case "expires":
			r.Expires, ok = d.num()
		case "callid":
			r.CallID, ok = d.str()
		case "cseq":
			var n int64
			n, ok = d.num()
			r.CSeq, ok = uint32(n), ok && n >= 0 && n <= 1<<32-1
		case "path":
			r.Path, ok = d.strs()
		case "received":
			r.Received, ok = d.str()
		case "transport":
			r.Transport, ok = d.str()
		case "edge":
			r.Edge, ok = d.str()
		case "ua":
			r.UserAgent, ok = d.str()
		case "instance":
			r.InstanceID, ok = d.str()
		case "regid":
			r.RegID, ok = int32Range(d.num())
		case "updated":
			r.Updated, ok = d.num()
		default:
			ok = false
		}
		if !ok {
			return r, false
		}
	}
}

// int32Range narrows n to an int, failing past int32 (the widest RegID and
// Q that validation lets through, and a bound on every platform).
func int32Range(n int64, ok bool) (int, bool) {
	return int(n), ok && n >= -1<<31 && n <= 1<<31-1
}

// scanner reads the JSON subset decodeFast accepts: no whitespace (encode
// writes none), strings without escapes or control characters and valid
// UTF-8, integers without sign other than '-', fraction or exponent.
type scanner struct {
	s string
	i int
}

func (d *scanner) byte(c byte) bool {
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *scanner) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start := d.i
	for ; d.i < len(d.s); d.i++ {
		switch c := d.s[d.i]; {
		case c == '"':
			v := d.s[start:d.i]
			d.i++
			return v, utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

func (d *scanner) strs() ([]string, bool) {
	if !d.byte('[') {
		return nil, false
	}
	out := []string{} // as encoding/json: [] is empty, not nil
	for first := true; ; first = false {
		if d.byte(']') {
			return out, true
		}
		if !first && !d.byte(',') {
			return nil, false
		}
		v, ok := d.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
}

func (d *scanner) num() (int64, bool) {
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || d.i-digits > 1 && d.s[digits] == '0' {
		return 0, false // no digits, or a leading zero encoding/json refuses
	}
	n, err := strconv.ParseInt(d.s[start:d.i], 10, 64)
	return n, err == nil
}
