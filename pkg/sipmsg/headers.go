package sipmsg

// Header names, compact forms, method tokens and the header accessors.

// headerNames are the canonical long names, indexed by HeaderID.
var headerNames = [numHeaderIDs]string{
	HUnknown:            "",
	HVia:                "Via",
	HFrom:               "From",
	HTo:                 "To",
	HCallID:             "Call-ID",
	HCSeq:               "CSeq",
	HContact:            "Contact",
	HMaxForwards:        "Max-Forwards",
	HContentLength:      "Content-Length",
	HContentType:        "Content-Type",
	HContentEncoding:    "Content-Encoding",
	HRoute:              "Route",
	HRecordRoute:        "Record-Route",
	HRequire:            "Require",
	HProxyRequire:       "Proxy-Require",
	HSupported:          "Supported",
	HUnsupported:        "Unsupported",
	HExpires:            "Expires",
	HMinExpires:         "Min-Expires",
	HAllow:              "Allow",
	HAuthorization:      "Authorization",
	HProxyAuthorization: "Proxy-Authorization",
	HWWWAuthenticate:    "WWW-Authenticate",
	HProxyAuthenticate:  "Proxy-Authenticate",
	HPath:               "Path",
	HDate:               "Date",
	HSubject:            "Subject",
	HEvent:              "Event",
	HAllowEvents:        "Allow-Events",
	HReferTo:            "Refer-To",
	HReferredBy:         "Referred-By",
	HUserAgent:          "User-Agent",
	HServer:             "Server",
	HAccept:             "Accept",
	HTimestamp:          "Timestamp",
	HRetryAfter:         "Retry-After",
	HSessionExpires:     "Session-Expires",
	HAcceptContact:      "Accept-Contact",
	HRejectContact:      "Reject-Contact",
	HRequestDisposition: "Request-Disposition",
	HIdentity:           "Identity",
	HIdentityInfo:       "Identity-Info",
}

// compactForms maps a lowerByte-case compact letter to its header (RFC 3261
// §7.3.3 and the IANA registry: RFC 3515 r, RFC 3892 b, RFC 6665 o/u,
// RFC 4028 x, RFC 3841 a/j/d, RFC 8224 y, RFC 4474 n).
var compactForms = [26]HeaderID{
	'a' - 'a': HAcceptContact,
	'b' - 'a': HReferredBy,
	'c' - 'a': HContentType,
	'd' - 'a': HRequestDisposition,
	'e' - 'a': HContentEncoding,
	'f' - 'a': HFrom,
	'i' - 'a': HCallID,
	'j' - 'a': HRejectContact,
	'k' - 'a': HSupported,
	'l' - 'a': HContentLength,
	'm' - 'a': HContact,
	'n' - 'a': HIdentityInfo,
	'o' - 'a': HEvent,
	'r' - 'a': HReferTo,
	's' - 'a': HSubject,
	't' - 'a': HTo,
	'u' - 'a': HAllowEvents,
	'v' - 'a': HVia,
	'x' - 'a': HSessionExpires,
	'y' - 'a': HIdentity,
}

// maxHeaderNameLen is the longest known header name.
const maxHeaderNameLen = 19

// namesByLen groups the known headers by name length for LookupHeader.
var namesByLen = func() (t [maxHeaderNameLen + 1][]HeaderID) {
	for id := HeaderID(1); id < numHeaderIDs; id++ {
		n := len(headerNames[id])
		t[n] = append(t[n], id)
	}
	return t
}()

// Name returns the canonical long header name ("Via", "Call-ID", ...); "" for HUnknown.
func (id HeaderID) Name() string {
	if id >= numHeaderIDs {
		return ""
	}
	return headerNames[id]
}

// LookupHeader maps a header name as written (any case, compact or long) to its ID.
func LookupHeader(name []byte) (id HeaderID, compact bool) {
	if len(name) == 1 {
		c := lowerByte(name[0])
		if c >= 'a' && c <= 'z' {
			id = compactForms[c-'a']
			return id, id != HUnknown
		}
		return HUnknown, false
	}
	if len(name) > maxHeaderNameLen {
		return HUnknown, false
	}
	for _, id := range namesByLen[len(name)] {
		if foldEq(name, headerNames[id]) {
			return id, false
		}
	}
	return HUnknown, false
}

// lowerByte folds an ASCII letter to lowerByte case.
func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// foldEq compares b with s ignoring ASCII case.
func foldEq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerByte(b[i]) != lowerByte(s[i]) {
			return false
		}
	}
	return true
}

// foldEqStr compares two strings ignoring ASCII case.
func foldEqStr(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// methodNames are the method tokens, indexed by Method.
var methodNames = [...]string{
	MethodUnknown: "",
	INVITE:        "INVITE",
	ACK:           "ACK",
	BYE:           "BYE",
	CANCEL:        "CANCEL",
	REGISTER:      "REGISTER",
	OPTIONS:       "OPTIONS",
	PRACK:         "PRACK",
	SUBSCRIBE:     "SUBSCRIBE",
	NOTIFY:        "NOTIFY",
	PUBLISH:       "PUBLISH",
	INFO:          "INFO",
	REFER:         "REFER",
	MESSAGE:       "MESSAGE",
	UPDATE:        "UPDATE",
}

// String is the method token ("INVITE"); "" for MethodUnknown.
func (m Method) String() string {
	if int(m) >= len(methodNames) {
		return ""
	}
	return methodNames[m]
}

// LookupMethod maps a method token to its Method. Methods are case-sensitive
// (RFC 3261 §7.1): "invite" is an unknown method, not INVITE.
func LookupMethod(tok []byte) Method {
	for i := 1; i < len(methodNames); i++ {
		if string(tok) == methodNames[i] {
			return Method(i)
		}
	}
	return MethodUnknown
}

// Get returns the first header with id, or false.
func (m *Msg) Get(id HeaderID) (Header, bool) {
	for _, h := range m.Headers {
		if h.ID == id {
			return h, true
		}
	}
	return Header{}, false
}

// Value returns the unfolded value of the first header with id ("" when absent).
func (m *Msg) Value(id HeaderID) string {
	h, ok := m.Get(id)
	if !ok {
		return ""
	}
	return unfoldValue(m.Bytes(h.Value))
}

// Values returns the unfolded values of every header row with id, in order.
func (m *Msg) Values(id HeaderID) []string {
	var out []string
	for _, h := range m.Headers {
		if h.ID == id {
			out = append(out, unfoldValue(m.Bytes(h.Value)))
		}
	}
	return out
}

// HeaderValue returns the unfolded value of h ("" for a header of another message).
func (m *Msg) HeaderValue(h Header) string {
	if int(h.Value.Off)+int(h.Value.Len) > len(m.Raw) {
		return ""
	}
	return unfoldValue(m.Bytes(h.Value))
}
