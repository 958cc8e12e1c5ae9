package sipmsg

// Stubs owned by the typed-views work: replace bodies, keep signatures.

// --- typed views -------------------------------------------------------------

// URI is a parsed SIP, SIPS or other URI.
type URI struct {
	Scheme   string // "sip", "sips", "tel", ... lower case
	User     string // unescaped
	Password string
	Host     string // IPv6 without brackets
	Port     int    // 0 when absent
	Params   Params // uri-parameters, names lower case
	Headers  string // raw ?headers part, escaped as written
	Opaque   string // for non-SIP schemes: everything after "scheme:"
	Raw      string // as written
}

// String renders the URI canonically (brackets around IPv6 hosts).
func (u *URI) String() string { panic("stub") }

// Params is an ordered list of ;name=value parameters (value "" for a flag).
type Params []Param

// Param is one parameter.
type Param struct{ Name, Value string }

// Get returns a parameter's value and whether it is present (names compare case-insensitively).
func (p Params) Get(name string) (string, bool) { panic("stub") }

// ParseURI parses one URI as it appears in a Request-URI or inside <>.
func ParseURI(s string) (URI, error) { panic("stub") }

// NameAddr is a From, To, Contact, Route or Record-Route value.
type NameAddr struct {
	Display string // unquoted display name
	URI     URI
	Params  Params // header parameters (tag, expires, q, lr is a URI param ...)
}

// Tag is the tag parameter ("" when absent).
func (n *NameAddr) Tag() string { v, _ := n.Params.Get("tag"); return v }

// Via is one Via value.
type Via struct {
	Transport string // "UDP", "TCP", ... upper case
	Host      string // IPv6 without brackets
	Port      int    // 0 when absent
	Branch    string
	Received  string // brackets removed
	RPort     int    // -1 absent, 0 present without value
	Params    Params
}

// SentBy is host[:port] as used in transaction keys (IPv6 in brackets).
func (v *Via) SentBy() string { panic("stub") }

// CSeq is the CSeq header.
type CSeq struct {
	Seq    uint32
	Method string
}

// Contact is one Contact value; Star is true for "*".
type Contact struct {
	NameAddr
	Star    bool
	Expires int     // -1 when absent
	Q       float64 // -1 when absent
}

func (m *Msg) RequestURIParsed() (URI, error)    { panic("stub") }
func (m *Msg) Vias() ([]Via, error)              { panic("stub") }
func (m *Msg) TopVia() (Via, error)              { panic("stub") }
func (m *Msg) From() (NameAddr, error)           { panic("stub") }
func (m *Msg) To() (NameAddr, error)             { panic("stub") }
func (m *Msg) CallID() string                    { panic("stub") }
func (m *Msg) CSeq() (CSeq, error)               { panic("stub") }
func (m *Msg) Contacts() ([]Contact, error)      { panic("stub") }
func (m *Msg) Routes() ([]NameAddr, error)       { panic("stub") }
func (m *Msg) RecordRoutes() ([]NameAddr, error) { panic("stub") }

// MaxForwards returns the value, or -1 when absent.
func (m *Msg) MaxForwards() (int, error) { panic("stub") }

// Expires returns the Expires header in seconds, or -1 when absent.
func (m *Msg) Expires() (int, error)  { panic("stub") }
func (m *Msg) Require() []string      { panic("stub") }
func (m *Msg) ProxyRequire() []string { panic("stub") }
func (m *Msg) Supported() []string    { panic("stub") }
func (m *Msg) ContentType() string    { panic("stub") }
