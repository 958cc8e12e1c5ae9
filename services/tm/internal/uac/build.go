package uac

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/tmapi"
)

// BranchPrefix starts the Via branch of every uac request.
const BranchPrefix = sipmsg.MagicCookie + "uac"

// FieldError is a command error naming the field at fault (400).
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func bad(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

var (
	methodRE  = regexp.MustCompile(`^[A-Za-z0-9!%*_+` + "`" + `'~.-]{1,32}$`)
	headerRE  = regexp.MustCompile(`^([A-Za-z0-9!%*_+` + "`" + `'~.-]+)[ \t]*:[^\r\n]*$`)
	dialogRE  = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]{16}$`)
	ha1RE     = regexp.MustCompile(`^[0-9a-f]{32}$|^[0-9a-f]{64}$`)
	reserved  = map[string]bool{"via": true, "v": true, "from": true, "f": true, "to": true, "t": true, "call-id": true, "i": true, "cseq": true, "contact": true, "m": true, "content-type": true, "c": true, "content-length": true, "l": true, "max-forwards": true, "route": true, "authorization": true, "proxy-authorization": true}
	maxBody   = 64 << 10
	maxHeader = 1024
)

// quote shows a value in an error, bounded and without control bytes.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// sipURI parses a sip: or sips: URI.
func sipURI(field, s string) (sipmsg.URI, *FieldError) {
	u, err := sipmsg.ParseURI(s)
	if err != nil {
		return u, bad(field, "%s is not a SIP URI: %v", quote(s), err)
	}
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return u, bad(field, "%s is not a sip: or sips: URI", quote(s))
	}
	if u.Host == "" {
		return u, bad(field, "%s has no host", quote(s))
	}
	return u, nil
}

// nameAddr parses a name-addr or addr-spec with a SIP URI.
func nameAddr(field, s string) (sipmsg.NameAddr, *FieldError) {
	if strings.ContainsAny(s, "\r\n") {
		return sipmsg.NameAddr{}, bad(field, "%s holds a line break", quote(s))
	}
	na, err := sipmsg.ParseNameAddr(strings.TrimSpace(s))
	if err != nil {
		return na, bad(field, "%s is not a name-addr: %v", quote(s), err)
	}
	if na.URI.Scheme != "sip" && na.URI.Scheme != "sips" {
		return na, bad(field, "%s is not a sip: or sips: address", quote(s))
	}
	return na, nil
}

// Validate checks a command; the error names the first field at fault.
func Validate(req *tmapi.UAC) *FieldError {
	if req.ID != "" && !tmapi.ValidToken(req.ID) {
		return bad("id", "%s: want 1 to 64 of A-Z a-z 0-9 _ -", quote(req.ID))
	}
	switch {
	case req.Method == "":
		return bad("method", "missing")
	case !methodRE.MatchString(req.Method):
		return bad("method", "%s is not a SIP method token", quote(req.Method))
	case req.Method == "CANCEL":
		return bad("method", "CANCEL is not sent as a uac: cancel the uac of the INVITE (sipbus.tm.uac.cancel)")
	case req.Method == "ACK" && req.DialogID == "":
		return bad("method", "ACK is sent inside a dialog only (dialog_id), for a uac whose ack is \"app\"")
	}
	if req.DialogID != "" {
		if !dialogRE.MatchString(req.DialogID) {
			return bad("dialog_id", "%s is not a dialog id (<callkey>-<16 hex>)", quote(req.DialogID))
		}
		for f, v := range map[string]string{"request_uri": req.RequestURI, "from": req.From, "to": req.To, "call_id": req.CallID, "from_tag": req.FromTag, "to_tag": req.ToTag, "next_hop": req.NextHop} {
			if v != "" {
				return bad(f, "must be empty inside a dialog (tm takes it from the dialog)")
			}
		}
		if req.CSeq != 0 {
			return bad("cseq", "must be empty inside a dialog (tm takes the dialog's next)")
		}
	} else {
		if req.RequestURI == "" {
			return bad("request_uri", "missing (required out of dialog)")
		}
		if _, e := sipURI("request_uri", req.RequestURI); e != nil {
			return e
		}
	}
	for _, f := range []struct{ name, v string }{{"from", req.From}, {"to", req.To}, {"contact", req.Contact}} {
		if f.v != "" {
			if _, e := nameAddr(f.name, f.v); e != nil {
				return e
			}
		}
	}
	for _, f := range []struct{ name, v string }{{"from_tag", req.FromTag}, {"to_tag", req.ToTag}, {"call_id", req.CallID}} {
		if strings.ContainsAny(f.v, " \t\r\n;,<>\"") || len(f.v) > 256 {
			return bad(f.name, "%s: no spaces, line breaks or ;,<>\" and at most 256 bytes", quote(f.v))
		}
	}
	if req.CSeq > 1<<31-1 {
		return bad("cseq", "%d is over 2^31-1", req.CSeq)
	}
	if len(req.Headers) > 32 {
		return bad("headers", "%d headers: at most 32", len(req.Headers))
	}
	for i, h := range req.Headers {
		m := headerRE.FindStringSubmatch(h)
		field := "headers[" + strconv.Itoa(i) + "]"
		if m == nil || len(h) > maxHeader {
			return bad(field, "%s is not one \"Name: value\" header line", quote(h))
		}
		if reserved[strings.ToLower(m[1])] {
			return bad(field, "%s is set by tm (use the command's own field)", m[1])
		}
	}
	if len(req.Body) > maxBody {
		return bad("body", "%d bytes: at most %d", len(req.Body), maxBody)
	}
	if req.Body != "" && req.ContentType == "" {
		return bad("content_type", "missing (required with body)")
	}
	if strings.ContainsAny(req.ContentType, "\r\n") || len(req.ContentType) > 256 {
		return bad("content_type", "%s is not a media type", quote(req.ContentType))
	}
	if req.NextHop != "" {
		if _, e := sipURI("next_hop", req.NextHop); e != nil {
			return e
		}
	}
	if a := req.Auth; a != nil {
		switch {
		case a.User == "" || strings.ContainsAny(a.User, "\r\n\""):
			return bad("auth.user", "missing or not printable")
		case a.Password == "" && a.HA1 == "":
			return bad("auth.password", "missing (password, or ha1 with realm)")
		case a.HA1 != "" && !ha1RE.MatchString(a.HA1):
			return bad("auth.ha1", "not 32 or 64 lower-case hex digits")
		case a.HA1 != "" && a.Realm == "":
			return bad("auth.realm", "required with ha1")
		}
	}
	if req.Owner != "" && !tmapi.ValidToken(req.Owner) {
		return bad("owner", "%s: want 1 to 64 of A-Z a-z 0-9 _ -", quote(req.Owner))
	}
	if req.ACK != "" && req.ACK != tmapi.ACKByTM && req.ACK != tmapi.ACKByApp {
		return bad("ack", "%s: want \"tm\" or \"app\"", quote(req.ACK))
	}
	if req.Timeout < 0 || req.Timeout > 3600 {
		return bad("timeout", "%d: want 0 to 3600 seconds", req.Timeout)
	}
	return nil
}

// createsDialog: a 2xx to these methods creates a dialog (RFC 3261 §12,
// RFC 6665 §4.1.2.4, RFC 3515).
func createsDialog(method string) bool {
	return method == "INVITE" || method == "SUBSCRIBE" || method == "REFER"
}

// Req is one request as it goes out, minus the Via branch.
type Req struct {
	Method  string
	RURI    string
	From    string // with its tag
	To      string // with the remote tag once there is one
	CallID  string
	CSeq    uint32
	Contact string   // "" for none
	Routes  []string // Route values, in order
	Headers []string
	Body    string
	CType   string
	Auth    string // "Authorization: ..." or "Proxy-Authorization: ..." line
	Agent   string
}

// Wire returns the request with a Via naming sentBy over transport.
func (r *Req) Wire(transport, sentBy, branch string) []byte {
	var b strings.Builder
	b.Grow(512 + len(r.Body))
	b.WriteString(r.Method + " " + r.RURI + " SIP/2.0\r\n")
	b.WriteString("Via: SIP/2.0/" + strings.ToUpper(transport) + " " + sentBy + ";branch=" + branch + ";rport\r\n")
	b.WriteString("Max-Forwards: 70\r\n")
	for _, rt := range r.Routes {
		b.WriteString("Route: " + rt + "\r\n")
	}
	b.WriteString("From: " + r.From + "\r\n")
	b.WriteString("To: " + r.To + "\r\n")
	b.WriteString("Call-ID: " + r.CallID + "\r\n")
	b.WriteString("CSeq: " + strconv.FormatUint(uint64(r.CSeq), 10) + " " + r.Method + "\r\n")
	if r.Contact != "" {
		b.WriteString("Contact: " + r.Contact + "\r\n")
	}
	if r.Agent != "" {
		b.WriteString("User-Agent: " + r.Agent + "\r\n")
	}
	if r.Auth != "" {
		b.WriteString(r.Auth + "\r\n")
	}
	for _, h := range r.Headers {
		b.WriteString(h + "\r\n")
	}
	if r.Body != "" {
		b.WriteString("Content-Type: " + r.CType + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(r.Body)) + "\r\n\r\n")
	b.WriteString(r.Body)
	return []byte(b.String())
}

// hopRequest is a CANCEL or a non-2xx ACK for req (RFC 3261 §9.1,
// §17.1.1.3): the same Request-URI, top Via, Route, From, Call-ID and CSeq
// number; To from the response for an ACK.
func hopRequest(req *sipmsg.Msg, method, to string) []byte {
	var b strings.Builder
	b.WriteString(method + " " + req.Str(req.RequestURI) + " SIP/2.0\r\n")
	if vals := req.Values(sipmsg.HVia); len(vals) > 0 {
		b.WriteString("Via: " + vals[0] + "\r\n")
	}
	b.WriteString("Max-Forwards: 70\r\n")
	for _, v := range req.Values(sipmsg.HRoute) {
		b.WriteString("Route: " + v + "\r\n")
	}
	b.WriteString("From: " + req.Value(sipmsg.HFrom) + "\r\n")
	if to == "" {
		to = req.Value(sipmsg.HTo)
	}
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Call-ID: " + req.CallID() + "\r\n")
	cs, _ := req.CSeq()
	b.WriteString("CSeq: " + strconv.FormatUint(uint64(cs.Seq), 10) + " " + method + "\r\n")
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// withTag renders a name-addr with tag set (replacing any).
func withTag(na sipmsg.NameAddr, tag string) string {
	ps := na.Params[:0:0]
	for _, p := range na.Params {
		if !strings.EqualFold(p.Name, "tag") {
			ps = append(ps, p)
		}
	}
	if tag != "" {
		ps = append(ps, sipmsg.Param{Name: "tag", Value: tag})
	}
	na.Params = ps
	return na.String()
}
