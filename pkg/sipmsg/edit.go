package sipmsg

import "strconv"

// Editor builds a modified copy of a message, the way a proxy forwards it
// (RFC 3261 §16.6): a new Request-URI, header rows added on top (Via,
// Record-Route), rows removed or replaced (Route popped, Max-Forwards
// decremented), the first value of a comma-separated row removed. The
// original Msg is not changed; Bytes renders the result in one allocation.
//
// Edits refer to header rows by their index in m.Headers, so one Editor
// works on one indexed message. Values are written as given: callers build
// them from parsed views, never from unchecked input.
type Editor struct {
	m       *Msg
	ruri    *string
	top     []string
	replace map[int]string
	drop    map[int]bool
	dropOne map[int]bool // drop the first element of a comma-separated row
	bottom  []string
}

// Edit starts editing m.
func (m *Msg) Edit() *Editor { return &Editor{m: m} }

// SetRequestURI replaces the Request-URI of a request.
func (e *Editor) SetRequestURI(uri string) *Editor { e.ruri = &uri; return e }

// Prepend adds header lines ("Via: ...", without CRLF) before every existing
// header, in the order given.
func (e *Editor) Prepend(lines ...string) *Editor { e.top = append(e.top, lines...); return e }

// Append adds header lines after the last header (before Content-Length is
// not required: SIP header order matters only among rows of one name).
func (e *Editor) Append(lines ...string) *Editor { e.bottom = append(e.bottom, lines...); return e }

// Replace sets the value of header row i.
func (e *Editor) Replace(i int, value string) *Editor {
	if e.replace == nil {
		e.replace = map[int]string{}
	}
	e.replace[i] = value
	return e
}

// Remove drops header row i.
func (e *Editor) Remove(i int) *Editor {
	if e.drop == nil {
		e.drop = map[int]bool{}
	}
	e.drop[i] = true
	return e
}

// RemoveFirst drops the first element of header row i ("Via: a, b" becomes
// "Via: b"); a row with one element is dropped entirely.
func (e *Editor) RemoveFirst(i int) *Editor {
	_, rest, _ := nextElem(e.m.HeaderValue(e.m.Headers[i]))
	if trimLWS(rest) == "" {
		return e.Remove(i)
	}
	return e.Replace(i, trimLWS(rest))
}

// RemoveValues drops the first n values of header id, across its rows in
// order: a proxy pops the two Route values of its double Record-Route
// (RFC 5658), which a UA may have written in one row or in two. A row
// left without values is dropped; rows already edited are not touched
// again (call it once per header).
func (e *Editor) RemoveValues(id HeaderID, n int) *Editor {
	for i := 0; i < len(e.m.Headers) && n > 0; i++ {
		if e.m.Headers[i].ID != id {
			continue
		}
		rest := e.m.HeaderValue(e.m.Headers[i])
		for n > 0 && trimLWS(rest) != "" {
			_, rest, _ = nextElem(rest)
			n--
		}
		if rest = trimLWS(rest); rest == "" {
			e.Remove(i)
		} else {
			e.Replace(i, rest)
		}
	}
	return e
}

// Bytes renders the edited message.
func (e *Editor) Bytes() []byte {
	m := e.m
	out := make([]byte, 0, len(m.Raw)+256)
	if m.Request {
		out = append(out, m.Bytes(m.Method)...)
		out = append(out, ' ')
		if e.ruri != nil {
			out = append(out, *e.ruri...)
		} else {
			out = append(out, m.Bytes(m.RequestURI)...)
		}
		out = append(out, " SIP/2.0\r\n"...)
	} else {
		out = append(out, "SIP/2.0 "...)
		out = strconv.AppendInt(out, int64(m.StatusCode), 10)
		out = append(out, ' ')
		out = append(out, m.Bytes(m.Reason)...)
		out = append(out, "\r\n"...)
	}
	for _, l := range e.top {
		out = append(out, l...)
		out = append(out, "\r\n"...)
	}
	for i, h := range m.Headers {
		if e.drop[i] {
			continue
		}
		out = append(out, m.Bytes(h.Name)...)
		out = append(out, ": "...)
		if v, ok := e.replace[i]; ok {
			out = append(out, v...)
		} else {
			out = append(out, m.Bytes(h.Value)...)
		}
		out = append(out, "\r\n"...)
	}
	for _, l := range e.bottom {
		out = append(out, l...)
		out = append(out, "\r\n"...)
	}
	out = append(out, "\r\n"...)
	out = append(out, m.Bytes(m.Body)...)
	return out
}
