package events

// CommandTMUAC is tm's uac command (NATS request/reply with streamed
// replies): send a request on behalf of an application, out of dialog or
// inside a dialog tm holds (the heir of SER's FIFO t_uac_dlg). See
// pkg/tmapi for the contract.
const CommandTMUAC = "sipbus.tm.uac.v1"

// TMUAC is the request of CommandTMUAC. Only Method and RequestURI are
// required out of dialog; inside a dialog (DialogID set) tm fills Call-ID,
// tags, CSeq, route set and remote target from the dialog record and the
// request URI, From, To, Call-ID and CSeq fields must be empty.
type TMUAC struct {
	// ID names this request for SubjectUACCancel; the client sets a
	// random one when empty ([A-Za-z0-9_-]{1,64}).
	ID         string `json:"id,omitempty"`
	Method     string `json:"method"`
	RequestURI string `json:"request_uri,omitempty"`
	// From and To are name-addr or addr-spec ("Alice <sip:alice@d>",
	// "sip:alice@d"); From defaults to sip:sipbus@<first local domain>,
	// To to the Request-URI.
	From    string `json:"from,omitempty"`
	FromTag string `json:"from_tag,omitempty"` // default random
	To      string `json:"to,omitempty"`
	ToTag   string `json:"to_tag,omitempty"` // out of dialog: normally empty
	// Contact of a dialog-creating request; default <sip:sipbus@ADVERTISE>
	// (tm's own address, so the dialog's in-dialog requests come to tm and
	// are delivered to Owner). A Contact elsewhere takes the dialog's
	// requests elsewhere.
	Contact string `json:"contact,omitempty"`
	CallID  string `json:"call_id,omitempty"` // default random
	CSeq    uint32 `json:"cseq,omitempty"`    // default 1 (in dialog: the dialog's next)
	// Headers are extra header lines "Name: value" (no CRLF); Via, From,
	// To, Call-ID, CSeq, Contact, Content-Type, Content-Length and
	// Max-Forwards are tm's.
	Headers     []string `json:"headers,omitempty"`
	Body        string   `json:"body,omitempty"`
	ContentType string   `json:"content_type,omitempty"` // required with Body
	// NextHop is an outbound proxy (sip: or sips: URI, a domain name is
	// resolved by RFC 3263), the request is sent there with the
	// Request-URI unchanged. Without it the Request-URI is the next hop;
	// a Request-URI in a local domain is an address of record: tm forks the
	// request to its registered contacts (first 2xx wins, the other
	// branches are CANCELled, a late 2xx is ACKed and BYEd).
	NextHop string `json:"next_hop,omitempty"`
	// Auth answers one 401/407 challenge per request.
	Auth *TMUACAuth `json:"auth,omitempty"`
	// DialogID sends the request inside a dialog a previous uac created
	// (a Response's DialogID).
	DialogID string `json:"dialog_id,omitempty"`
	// Owner is the application ([A-Za-z0-9_-]{1,64}) that owns a dialog
	// this request creates: in-dialog requests tm receives for it are
	// answered by tm and published on app.<Owner>.dialog.<dialog id>.
	// Empty: nobody is told (tm still answers them).
	Owner string `json:"owner,omitempty"`
	// ACK "app": tm does not ACK an INVITE's 2xx; the application sends
	// the ACK (with a body, RFC 3725 flow I) as a uac command with method
	// ACK and the DialogID. Default "tm": tm ACKs at once.
	ACK string `json:"ack,omitempty"`
	// Timeout bounds, in seconds, how long an INVITE may ring before tm
	// CANCELs it (the final is then 487 or the branch's answer); default
	// 60 (timer C). A non-INVITE ends by Timer F.
	Timeout int `json:"timeout,omitempty"`
}

// TMUACAuth are credentials for a 401/407 challenge: Password, or HA1
// (MD5(user:realm:password), then Realm must be given and match).
type TMUACAuth struct {
	User     string `json:"user"`
	Password string `json:"password,omitempty"`
	HA1      string `json:"ha1,omitempty"`
	Realm    string `json:"realm,omitempty"`
}

// String hides the secret (a request is never printed with it).
func (a TMUACAuth) String() string { return "{user:" + a.User + " realm:" + a.Realm + " secret:***}" }

// TMUACResponse is one streamed reply of CommandTMUAC: every provisional
// response, then exactly one with Final set.
type TMUACResponse struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
	Final  bool   `json:"final,omitempty"`
	// Local: tm made this response itself (408 Timer B/F, 487 after a
	// cancel, 503 DNS, 200 "ACK sent"); Message is then empty.
	Local bool `json:"local,omitempty"`
	// Error is set when the command itself failed (no SIP request went
	// out or it could not go on): Status 400 with Field naming the field
	// at fault, 404 no such dialog, 503 try again. Always Final.
	Error string `json:"error,omitempty"`
	Field string `json:"field,omitempty"`
	// Message is the SIP response as received (raw, CRLF).
	Message string `json:"message,omitempty"`
	ToTag   string `json:"to_tag,omitempty"`
	CallID  string `json:"call_id,omitempty"`
	CSeq    uint32 `json:"cseq,omitempty"`
	// Contact is the target of the branch that answered (a registered
	// contact when the request was forked).
	Contact string `json:"contact,omitempty"`
	// DialogID names the dialog a 2xx created (INVITE, SUBSCRIBE, REFER;
	// RFC 6665) or the dialog the request was sent in.
	DialogID string `json:"dialog_id,omitempty"`
}

// TMUACCancel asks the tm replica running uac ID to CANCEL it (an INVITE
// with no final yet); published on SubjectUACCancel, no reply.
type TMUACCancel struct {
	ID string `json:"id"`
}

// SchemaTMUACResponse and SchemaTMUACCancel are the schemas of the reply
// and cancel halves of CommandTMUAC.
var (
	SchemaTMUACResponse = SchemaURL(CommandTMUAC) + "#/$defs/response"
	SchemaTMUACCancel   = SchemaURL(CommandTMUAC) + "#/$defs/cancel"
)

func (*TMUAC) CEType() string           { return CommandTMUAC }
func (*TMUAC) CESchema() string         { return SchemaURL(CommandTMUAC) }
func (*TMUACResponse) CEType() string   { return CommandTMUAC }
func (*TMUACResponse) CESchema() string { return SchemaTMUACResponse }
func (*TMUACCancel) CEType() string     { return CommandTMUAC }
func (*TMUACCancel) CESchema() string   { return SchemaTMUACCancel }
