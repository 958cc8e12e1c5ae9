package events

import (
	"errors"
	"fmt"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Span is a byte range of the raw message (sipmsg.Span; JSON {"off","len"}).
type Span = sipmsg.Span

// Index is the JSON form of sipmsg.Index: offsets into the raw bytes.
type Index struct {
	Request       bool          `json:"request"`
	Method        Span          `json:"method,omitzero"`      // request
	RequestURI    Span          `json:"request_uri,omitzero"` // request
	Version       Span          `json:"version"`
	Status        int           `json:"status,omitempty"` // response
	Reason        Span          `json:"reason,omitzero"`  // response
	Headers       []HeaderIndex `json:"headers"`
	Body          Span          `json:"body"`
	Terminated    bool          `json:"terminated,omitempty"`
	ContentLength int           `json:"content_length"` // -1 when absent
}

// HeaderIndex is one header line of an Index.
type HeaderIndex struct {
	// Name is the canonical long name of a known header ("Via", "Call-ID"),
	// the name as written otherwise.
	Name     string `json:"name"`
	Compact  bool   `json:"compact,omitempty"`
	NameOff  uint32 `json:"name_off"`
	NameLen  uint32 `json:"name_len"`
	ValueOff uint32 `json:"value_off"`
	ValueLen uint32 `json:"value_len"`
}

// ErrBadIndex is returned by SIPMessage.Msg when the index does not fit the raw bytes.
var ErrBadIndex = errors.New("events: SIP index does not match raw message")

// NewSIPMessage builds the data of a received message from an indexed m and
// where it came from. The summary fields come from sipmsg's typed views; a view
// that fails (a header the sanity checks did not require) leaves its field
// empty. m.Raw is copied. ReceivedAt is now; callers may overwrite it.
func NewSIPMessage(m *sipmsg.Msg, n Network) SIPMessage {
	s := SIPMessage{
		Raw:        append([]byte(nil), m.Raw...),
		Index:      indexOf(m),
		Network:    n,
		ReceivedAt: time.Now().UTC(),
	}
	if m.Request {
		s.Method = m.Str(m.Method)
		s.RequestURI = m.Str(m.RequestURI)
	} else {
		s.Status = m.StatusCode
		s.Reason = m.Str(m.Reason)
	}
	// Summary fields are best effort: a view that fails (a header the
	// sanity checks did not require) leaves its field empty.
	s.CallID = m.CallID()
	if c, err := m.CSeq(); err == nil {
		s.CSeq = &CSeq{Seq: c.Seq, Method: c.Method}
		if !m.Request {
			s.Method = c.Method
		}
	}
	if f, err := m.From(); err == nil {
		s.FromTag = f.Tag()
	}
	if t, err := m.To(); err == nil {
		s.ToTag = t.Tag()
	}
	if v, err := m.TopVia(); err == nil {
		s.Branch = v.Branch
	}
	var err error
	if m.Request {
		s.TxKey, err = sipmsg.ServerTxKey(m)
	} else {
		s.TxKey, err = sipmsg.ClientTxKey(m)
	}
	if err != nil {
		s.TxKey = ""
	}
	return s
}

func indexOf(m *sipmsg.Msg) Index {
	x := Index{
		Request:       m.Request,
		Method:        m.Method,
		RequestURI:    m.RequestURI,
		Version:       m.Version,
		Reason:        m.Reason,
		Headers:       make([]HeaderIndex, len(m.Headers)),
		Body:          m.Body,
		Terminated:    m.Terminated,
		ContentLength: m.ContentLength,
	}
	if !m.Request {
		x.Status = m.StatusCode
	}
	for i, h := range m.Headers {
		name := h.ID.Name()
		if name == "" {
			name = m.Str(h.Name)
		}
		x.Headers[i] = HeaderIndex{
			Name: name, Compact: h.Compact,
			NameOff: h.Name.Off, NameLen: h.Name.Len,
			ValueOff: h.Value.Off, ValueLen: h.Value.Len,
		}
	}
	return x
}

// Msg rebuilds the sipmsg.Msg from the raw bytes and the index, without
// parsing the message again. Every span is checked against the raw length;
// header IDs come from the header names. The Msg shares s.Raw.
func (s *SIPMessage) Msg() (*sipmsg.Msg, error) {
	n := uint64(len(s.Raw))
	x := &s.Index
	for _, sp := range []struct {
		what string
		s    Span
	}{{"method", x.Method}, {"request_uri", x.RequestURI}, {"version", x.Version}, {"reason", x.Reason}, {"body", x.Body}} {
		if uint64(sp.s.Off)+uint64(sp.s.Len) > n {
			return nil, fmt.Errorf("%w: %s span %d+%d beyond %d bytes", ErrBadIndex, sp.what, sp.s.Off, sp.s.Len, n)
		}
	}
	m := &sipmsg.Msg{Raw: s.Raw}
	m.Request = x.Request
	m.Method, m.RequestURI, m.Version, m.Reason, m.Body = x.Method, x.RequestURI, x.Version, x.Reason, x.Body
	m.StatusCode = x.Status
	m.Terminated = x.Terminated
	m.ContentLength = x.ContentLength
	if x.Request {
		m.StatusCode = 0
		m.MethodID = sipmsg.LookupMethod(m.Bytes(m.Method))
	}
	m.Headers = make([]sipmsg.Header, len(x.Headers))
	for i, h := range x.Headers {
		if uint64(h.NameOff)+uint64(h.NameLen) > n || uint64(h.ValueOff)+uint64(h.ValueLen) > n {
			return nil, fmt.Errorf("%w: header %d (%q) beyond %d bytes", ErrBadIndex, i, h.Name, n)
		}
		id, _ := sipmsg.LookupHeader([]byte(h.Name))
		m.Headers[i] = sipmsg.Header{
			ID: id, Compact: h.Compact,
			Name:  Span{Off: h.NameOff, Len: h.NameLen},
			Value: Span{Off: h.ValueOff, Len: h.ValueLen},
		}
	}
	return m, nil
}
