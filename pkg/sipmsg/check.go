package sipmsg

import (
	"strconv"
	"strings"
)

// Role is the kind of element doing a Check; it decides which RFC 3261
// rules apply beyond the syntax checks every element makes.
type Role uint8

// Roles.
const (
	// RoleNone: syntax and framing checks only (the stateless edge, before
	// a message is handed to a proxy, endpoint or registrar).
	RoleNone Role = iota
	// RoleProxy: RFC 3261 §16.3 (Max-Forwards 0 → 483, Proxy-Require → 420);
	// Require, methods and bodies are not the proxy's business.
	RoleProxy
	// RoleEndpoint: a UAS, RFC 3261 §8.2 (501 unknown method, 416 URI
	// scheme, 420 Require, 415 body type, 406 Accept).
	RoleEndpoint
	// RoleRegistrar: a UAS for REGISTER with the RFC 3261 §10.3 checks
	// (the To header must hold a SIP or SIPS address-of-record).
	RoleRegistrar
)

// String names the role.
func (r Role) String() string {
	switch r {
	case RoleProxy:
		return "proxy"
	case RoleEndpoint:
		return "endpoint"
	case RoleRegistrar:
		return "registrar"
	}
	return "none"
}

// CheckOptions tune Check to the role of the element doing the check.
type CheckOptions struct {
	// Framing the message arrived with (Datagram: a Content-Length larger
	// than the body is a 400; Stream: the Framer already waited for it).
	Framing Framing
	// Role of the checking element; RoleNone checks syntax only.
	Role Role
	// Supported option tags; a Require (endpoint, registrar) or
	// Proxy-Require (proxy) tag outside it gives 420 Bad Extension.
	Supported []string
	// Methods an endpoint or registrar implements; a request for any other
	// gives 501 (RFC 3261 §8.2.1). Empty: every method is accepted.
	Methods []string
	// Accept lists the body types (type/subtype) an endpoint or registrar
	// understands; a body of another type gives 415, an INVITE whose Accept
	// header allows none of them 406. Empty: bodies are not checked.
	Accept []string
	// URISchemes the element serves in a Request-URI (lower case); any
	// other gives 416. Empty means sip, sips and tel.
	URISchemes []string
	// AuthSchemes a registrar or endpoint authenticates with (e.g.
	// "Digest"); an Authorization header of another scheme gives 401.
	// Empty: Authorization is not looked at.
	AuthSchemes []string
}

// Check applies the sanity checks (RFC 3261 §8.2, §16.3, RFC 4475, RFC 5118)
// to an indexed message and returns the first fault, or nil.
//
// Decisions (see also doc.go):
//   - Max-Forwards is not mandatory: RFC 3261 §8.1.1 makes the UAC send it,
//     but §16.6 has a proxy add it, and RFC 2543 clients (RFC 4475 inv2543)
//     omit it. A present Max-Forwards must be 0..255.
//   - A request fault has status 400 unless a more precise code exists;
//     a response fault has status 0: a response cannot be answered, only
//     dropped.
//   - Syntax is checked only as far as routing and transaction matching
//     need it: start line, Via, From, To, Call-ID, CSeq, Max-Forwards,
//     Content-Length, and the name-addr syntax of Contact, Route and
//     Record-Route. Other headers are opaque.
func Check(m *Msg, opt CheckOptions) *Fault {
	if len(m.Raw) == 0 || (!m.Request && m.Version.Len == 0) {
		return &Fault{Status: 0, Reason: "Empty message"}
	}
	if !m.Request {
		return checkResponse(m, opt)
	}
	return checkRequest(m, opt)
}

func badf(id HeaderID, format string, args ...any) *Fault {
	return &Fault{Status: 400, Reason: sprintf(format, args...), Header: id}
}

// sprintf is a tiny %s/%d formatter that keeps fmt out of the hot path's
// imports (faults are rare, so allocation is fine here).
func sprintf(format string, args ...any) string {
	var b strings.Builder
	ai := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '%' && i+1 < len(format) && ai < len(args) {
			i++
			switch v := args[ai].(type) {
			case string:
				b.WriteString(v)
			case int:
				b.WriteString(strconv.Itoa(v))
			case uint64:
				b.WriteString(strconv.FormatUint(v, 10))
			}
			ai++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func checkRequest(m *Msg, opt CheckOptions) *Fault {
	if !foldEq(m.Bytes(m.Version), "SIP/2.0") {
		return &Fault{Status: 505, Reason: "Version Not Supported: " + printable(m.Bytes(m.Version), 16)}
	}
	if f := checkHeadersCommon(m); f != nil {
		return f
	}
	method := m.Bytes(m.Method)
	// CSeq: number and method (RFC 3261 §8.1.1.5, RFC 4475 mismatch01/02)
	cseq := m.first(HCSeq)
	seq, cm, ok := splitCSeq(m.Bytes(cseq.Value))
	if !ok {
		return badf(HCSeq, "Bad CSeq: expected sequence number and method")
	}
	if _, ok := parseUintBytes(seq, 1<<32-1); !ok {
		return badf(HCSeq, "Bad CSeq: sequence number out of range")
	}
	if string(cm) != string(method) {
		if m.MethodID == MethodUnknown {
			return &Fault{Status: 501, Reason: "Not Implemented: unknown method " + printable(method, 32) + " with mismatched CSeq method", Header: HCSeq}
		}
		return badf(HCSeq, "Bad CSeq: method does not match request method")
	}
	// Max-Forwards (RFC 3261 §16.3 item 3)
	mf := -1
	if h, ok := m.Get(HMaxForwards); ok {
		v, ok := parseUintBytes(m.Bytes(h.Value), 255)
		if !ok {
			return badf(HMaxForwards, "Bad Max-Forwards: must be 0 to 255")
		}
		mf = int(v)
	}
	if f := checkRequestURI(m, opt); f != nil {
		return f
	}
	if f := checkBodyFraming(m, opt); f != nil {
		return f
	}
	switch opt.Role {
	case RoleProxy:
		if mf == 0 {
			return &Fault{Status: 483, Reason: "Too Many Hops", Header: HMaxForwards}
		}
		if f := checkRequire(m, HProxyRequire, opt.Supported); f != nil {
			return f
		}
	case RoleEndpoint, RoleRegistrar:
		return checkUAS(m, opt)
	}
	return nil
}

// checkHeadersCommon checks what requests and responses share: mandatory
// and single-valued headers, Via, From, To, Contact, Route.
func checkHeadersCommon(m *Msg) *Fault {
	var count [numHeaderIDs]uint16
	for _, h := range m.Headers {
		count[h.ID]++
	}
	for _, id := range [...]HeaderID{HTo, HFrom, HCallID, HCSeq, HVia} {
		if count[id] == 0 {
			return badf(id, "Missing %s", id.Name())
		}
	}
	for _, id := range [...]HeaderID{HTo, HFrom, HCallID, HCSeq, HMaxForwards, HContentType} {
		if count[id] > 1 {
			return badf(id, "Multiple %s header fields", id.Name())
		}
	}
	if m.ContentLength == CLInvalid {
		if count[HContentLength] > 1 {
			return badf(HContentLength, "Conflicting Content-Length values")
		}
		return badf(HContentLength, "Bad Content-Length")
	}
	if len(trimLWSB(m.Bytes(m.first(HCallID).Value))) == 0 {
		return badf(HCallID, "Bad Call-ID: empty")
	}
	for _, h := range m.Headers {
		var why string
		switch h.ID {
		case HUnknown:
			if !isTokenBytes(m.Bytes(h.Name)) {
				return badf(HUnknown, "Bad header name: %s", printable(m.Bytes(h.Name), 32))
			}
			continue
		case HVia:
			why = checkViaList(m.Bytes(h.Value))
		case HFrom, HTo:
			why = checkNameAddrList(m.Bytes(h.Value), false, true)
		case HContact:
			why = checkNameAddrList(m.Bytes(h.Value), true, false)
		case HRoute, HRecordRoute:
			why = checkNameAddrList(m.Bytes(h.Value), false, false)
		default:
			continue
		}
		if why != "" {
			return badf(h.ID, "Bad %s: %s", h.ID.Name(), why)
		}
	}
	return nil
}

// isTokenBytes reports whether b is a non-empty RFC 3261 token.
func isTokenBytes(b []byte) bool {
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return len(b) > 0
}

// first returns the first header with id (the zero Header when absent).
func (m *Msg) first(id HeaderID) Header {
	h, _ := m.Get(id)
	return h
}

// checkRequestURI checks the Request-URI syntax and scheme (RFC 4475
// ltgtruri, lwsruri, escruri, unkscm, novelsc; RFC 5118 ipv6-bad).
func checkRequestURI(m *Msg, opt CheckOptions) *Fault {
	u := m.Bytes(m.RequestURI)
	if u[0] == '<' {
		return badf(HUnknown, "Bad Request-URI: enclosed in <>")
	}
	for _, c := range u {
		if c <= ' ' || c == 0x7f {
			return badf(HUnknown, "Bad Request-URI: contains whitespace or control characters")
		}
	}
	scheme, rest, ok := splitScheme(u)
	if !ok {
		return badf(HUnknown, "Bad Request-URI: no scheme")
	}
	if !schemeServed(scheme, opt.URISchemes) {
		return &Fault{Status: 416, Reason: "Unsupported URI Scheme: " + printable(scheme, 32)}
	}
	if foldEq(scheme, "sip") || foldEq(scheme, "sips") {
		if why := checkSIPURI(rest, true); why != "" {
			return badf(HUnknown, "Bad Request-URI: %s", why)
		}
	}
	return nil
}

// schemeServed reports whether a Request-URI scheme is one the element serves.
func schemeServed(scheme []byte, list []string) bool {
	if len(list) == 0 {
		return foldEq(scheme, "sip") || foldEq(scheme, "sips") || foldEq(scheme, "tel")
	}
	for _, s := range list {
		if foldEq(scheme, s) {
			return true
		}
	}
	return false
}

// checkBodyFraming compares Content-Length with the body (RFC 4475 clerr).
func checkBodyFraming(m *Msg, opt CheckOptions) *Fault {
	if m.ContentLength > int(m.Body.Len) {
		return badf(HContentLength, "Content-Length %d exceeds body (%d octets)", m.ContentLength, int(m.Body.Len))
	}
	return nil
}

// checkRequire returns 420 for option tags of header id outside supported.
func checkRequire(m *Msg, id HeaderID, supported []string) *Fault {
	var bad []string
	for _, h := range m.Headers {
		if h.ID != id {
			continue
		}
		for _, tag := range splitList(m.Bytes(h.Value)) {
			if !containsFold(supported, tag) {
				bad = append(bad, tag)
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Fault{Status: 420, Reason: "Bad Extension: " + strings.Join(bad, ", "), Unsupported: bad, Header: id}
}

// checkUAS applies the RFC 3261 §8.2 checks of a UAS, in the RFC's order.
func checkUAS(m *Msg, opt CheckOptions) *Fault {
	method := string(m.Bytes(m.Method))
	if len(opt.Methods) > 0 && !containsExact(opt.Methods, method) {
		return &Fault{Status: 501, Reason: "Not Implemented: " + printable(m.Bytes(m.Method), 32)}
	}
	if opt.Role == RoleRegistrar && m.MethodID == REGISTER {
		to := m.Bytes(m.first(HTo).Value)
		if s := addrScheme(to); !foldEq(s, "sip") && !foldEq(s, "sips") {
			return badf(HTo, "Bad To: address-of-record must be a SIP or SIPS URI")
		}
	}
	if m.MethodID != ACK && m.MethodID != CANCEL {
		if f := checkRequire(m, HRequire, opt.Supported); f != nil {
			return f
		}
	}
	if len(opt.AuthSchemes) > 0 {
		for _, h := range m.Headers {
			if h.ID != HAuthorization {
				continue
			}
			v := m.Bytes(h.Value)
			i := 0
			for i < len(v) && isTokenByte(v[i]) {
				i++
			}
			if !containsFold(opt.AuthSchemes, string(v[:i])) {
				return &Fault{Status: 401, Reason: "Unauthorized: unsupported authorization scheme " + printable(v[:i], 32), Header: HAuthorization}
			}
		}
	}
	if len(opt.Accept) > 0 {
		if f := checkContentType(m, opt); f != nil {
			return f
		}
		if m.MethodID == INVITE {
			if f := checkAcceptable(m, opt); f != nil {
				return f
			}
		}
	}
	return nil
}

// checkContentType gives 415 for a body of a type the UAS does not understand.
func checkContentType(m *Msg, opt CheckOptions) *Fault {
	if m.Body.Len == 0 {
		return nil
	}
	h, ok := m.Get(HContentType)
	if !ok {
		return badf(HContentType, "Missing Content-Type for a message body")
	}
	ct := m.Bytes(h.Value)
	for _, a := range opt.Accept {
		if mediaTypeIs(ct, a) {
			if enc, ok := m.Get(HContentEncoding); ok && !foldEq(trimLWSB(m.Bytes(enc.Value)), "identity") {
				return &Fault{Status: 415, Reason: "Unsupported Media Type: Content-Encoding " + printable(m.Bytes(enc.Value), 32), Header: HContentEncoding}
			}
			return nil
		}
	}
	return &Fault{Status: 415, Reason: "Unsupported Media Type: " + printable([]byte(mediaType(ct)), 64), Header: HContentType}
}

// checkAcceptable gives 406 when an INVITE's Accept header rules out every
// body type the UAS can answer with (RFC 4475 sdp01).
func checkAcceptable(m *Msg, opt CheckOptions) *Fault {
	seen := false
	for _, h := range m.Headers {
		if h.ID != HAccept {
			continue
		}
		seen = true
		for _, r := range splitList(m.Bytes(h.Value)) {
			r = mediaType([]byte(r))
			for _, a := range opt.Accept {
				if mediaRangeMatch(r, a) {
					return nil
				}
			}
		}
	}
	if !seen {
		return nil
	}
	return &Fault{Status: 406, Reason: "Not Acceptable: no body type in Accept that this element can send", Header: HAccept}
}

// mediaRangeMatch matches a media range ("*/*", "application/*") with a type.
func mediaRangeMatch(r, t string) bool {
	if r == "" {
		return true // an empty Accept allows a response without body
	}
	if r == "*/*" || foldEqStr(r, t) {
		return true
	}
	if strings.HasSuffix(r, "/*") {
		i := strings.IndexByte(t, '/')
		return i >= 0 && foldEqStr(r[:len(r)-1], t[:i+1])
	}
	return false
}

// checkResponse checks a response; every fault is a drop (Status 0).
func checkResponse(m *Msg, opt CheckOptions) *Fault {
	drop := func(f *Fault) *Fault {
		f.Status = 0
		return f
	}
	if !foldEq(m.Bytes(m.Version), "SIP/2.0") {
		return &Fault{Reason: "Version Not Supported: " + printable(m.Bytes(m.Version), 16)}
	}
	if m.StatusCode < 100 || m.StatusCode > 699 {
		return &Fault{Reason: "Bad status code"}
	}
	if f := checkHeadersCommon(m); f != nil {
		return drop(f)
	}
	seq, cm, ok := splitCSeq(m.Bytes(m.first(HCSeq).Value))
	if !ok || len(cm) == 0 {
		return &Fault{Reason: "Bad CSeq", Header: HCSeq}
	}
	if _, ok := parseUintBytes(seq, 1<<32-1); !ok {
		return &Fault{Reason: "Bad CSeq: sequence number out of range", Header: HCSeq}
	}
	if f := checkBodyFraming(m, opt); f != nil {
		return drop(f)
	}
	vias := 0
	var second []byte
	for _, h := range m.Headers {
		if h.ID != HVia {
			continue
		}
		v := m.Bytes(h.Value)
		for i := 0; i >= 0; {
			var e []byte
			e, i = nextListElem(v, i)
			vias++
			if vias == 2 {
				second = e
			}
		}
	}
	switch opt.Role {
	case RoleEndpoint, RoleRegistrar:
		// RFC 3261 §8.1.3.3: more than one Via: the response was misrouted
		if vias > 1 {
			return &Fault{Reason: "Response with more than one Via", Header: HVia}
		}
	case RoleProxy:
		if second != nil && isBroadcastSentBy(second) {
			return &Fault{Reason: "Response would be sent to a broadcast address", Header: HVia}
		}
	}
	return nil
}
