package app

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Source says where a REGISTER came from; it is stored with each binding.
type Source struct {
	Transport string // transport it arrived on: "udp", "tcp", ...
	Received  string // "udp:ip:port" or "tcp:flowid" (location.Binding.Received)
	Edge      string // id of the edge that received it
}

// Decision is what to do with one REGISTER. Exactly one of these holds:
//   - Update != nil: apply it (location.Store.Apply), then answer with OK
//     and the bindings Apply returns (or, if Apply fails, FromStoreError);
//   - Fetch: a query (no Contact): look the AOR up and answer with OK;
//   - otherwise: answer Reply/Reason with Headers (Reject builds it).
type Decision struct {
	Reply   int      // final status: 200 for Update and Fetch, the error otherwise
	Reason  string   // reason phrase
	Headers []string // extra header lines of the reply, e.g. "Min-Expires: 60"
	Update  *location.Update
	Fetch   bool
	AOR     string // the address-of-record ("" when the To header is unusable)
}

// Reason phrases Decide and FromStoreError answer with.
const (
	ReasonStarInvalid  = "Invalid Contact: * needs Expires: 0 and no other Contact"
	ReasonNotServed    = "Domain not served here"
	ReasonTooMany      = "Too many contacts"
	ReasonTooBrief     = "Interval Too Brief"
	ReasonToNotSIP     = "Invalid To: address-of-record must be a sip or sips URI"
	ReasonToNoUser     = "Invalid To: no user part"
	ReasonToInvalid    = "Invalid To"
	ReasonToMissing    = "Missing To"
	ReasonCallID       = "Missing Call-ID"
	ReasonCSeqMissing  = "Missing CSeq"
	ReasonCSeqInvalid  = "Invalid CSeq"
	ReasonCSeqMethod   = "CSeq method does not match"
	ReasonExpires      = "Invalid Expires header"
	ReasonPath         = "Invalid Path header"
	ReasonNotRegister  = "Method Not Allowed"
	ReasonUnavailable  = "Location service unavailable"
	ReasonInternal     = "Server Internal Error"
	retryAfterOnOutage = "Retry-After: 5"
)

// Decide is the registrar's decision for one REGISTER (RFC 3261 §10.3
// steps 5 to 7; authentication, steps 2 to 4, happens before it). It reads
// only the message: the shell executes the result against the location
// store. now becomes Update.Now and the base of every expiry.
//
// The rules, in order (each a named case of the table tests):
//   - not a REGISTER request: 405 with Allow: REGISTER;
//   - Call-ID and CSeq present and CSeq method REGISTER, else 400 (the edge
//     checked these already; Decide does not trust it);
//   - To present, parseable, with a sip or sips URI (400 naming To), a user
//     part; the AOR is location.ParseAOR of it;
//   - the AOR's host is one of Options.Domains, else 403 "Domain not
//     served here";
//   - a bad Expires header, Contact value, expires, q, reg-id or
//     +sip.instance parameter, or Path value: 400 naming it;
//   - no Contact: a query (Fetch);
//   - Contact "*": with Expires: 0 and no other Contact a Wildcard update,
//     else 400 ReasonStarInvalid (RFC 3261 §10.3 step 6);
//   - per Contact, expires = its expires parameter, else the Expires
//     header, else DefaultExpires; 0 removes it (Expires = now); below
//     MinExpires: 423 with Min-Expires (step 7); above MaxExpires: shortened
//     to it; q absent is 1.0;
//   - more Contacts to add or refresh (not removals) than MaxContacts: 403
//     "Too many contacts". Kamailio answers its own max_contacts check with
//     503 and a P-Registrar-Error header; 403 is used here because a 503
//     tells the UA and upstream proxies that the server is overloaded
//     (RFC 3261 §21.5.4) and makes them fail over, while this is a policy
//     refusal the same registrar would repeat;
//   - the Path values (RFC 3327), +sip.instance and reg-id (RFC 5626; a
//     reg-id without +sip.instance is ignored), User-Agent and the Source
//     are stored with each binding.
func Decide(m *sipmsg.Msg, src Source, now time.Time, opt Options) Decision {
	opt = opt.withDefaults()
	if !m.Request || m.MethodID != sipmsg.REGISTER {
		return reject(405, ReasonNotRegister, "Allow: REGISTER")
	}
	callID := m.CallID()
	if callID == "" {
		return reject(400, ReasonCallID)
	}
	cseq, err := m.CSeq()
	switch {
	case errors.Is(err, sipmsg.ErrMissingHeader):
		return reject(400, ReasonCSeqMissing)
	case err != nil:
		return reject(400, ReasonCSeqInvalid)
	case cseq.Method != "REGISTER":
		return reject(400, ReasonCSeqMethod)
	}
	aor, d := toAOR(m)
	if aor == "" {
		return d
	}
	if host := aor[strings.LastIndexByte(aor, '@')+1:]; !opt.served(host) {
		return reject(403, ReasonNotServed).withAOR(aor)
	}
	hdrExpires, err := m.Expires()
	if err != nil {
		return reject(400, ReasonExpires).withAOR(aor)
	}
	contacts, err := parseContacts(m)
	if err != nil {
		return reject(400, err.Error()).withAOR(aor)
	}
	path, ok := paths(m)
	if !ok {
		return reject(400, ReasonPath).withAOR(aor)
	}
	if len(contacts) == 0 {
		return Decision{Reply: 200, Reason: "OK", Fetch: true, AOR: aor}
	}
	u := &location.Update{AOR: aor, CallID: callID, CSeq: cseq.Seq, Now: now}
	for _, c := range contacts {
		if c.star {
			if len(contacts) != 1 || hdrExpires != 0 {
				return reject(400, ReasonStarInvalid).withAOR(aor)
			}
			u.Wildcard = true
			return Decision{Reply: 200, Reason: "OK", Update: u, AOR: aor}
		}
	}
	adding := 0
	ua := m.Value(sipmsg.HUserAgent)
	for _, c := range contacts {
		exp := c.expires
		if exp < 0 {
			exp = hdrExpires
		}
		life := time.Duration(exp) * time.Second
		if exp < 0 {
			life = opt.DefaultExpires
		}
		switch {
		case life == 0:
		case life < opt.MinExpires:
			return reject(423, ReasonTooBrief, "Min-Expires: "+strconv.FormatInt(seconds(opt.MinExpires), 10)).withAOR(aor)
		case life > opt.MaxExpires:
			life = opt.MaxExpires
		}
		if life > 0 {
			adding++
		}
		q := c.q
		if q < 0 {
			q = 1
		}
		u.Contacts = append(u.Contacts, location.Binding{
			AOR:        aor,
			Contact:    c.uri,
			Q:          q,
			Expires:    now.Add(life),
			CallID:     callID,
			CSeq:       cseq.Seq,
			Path:       path,
			Received:   src.Received,
			Transport:  src.Transport,
			Edge:       src.Edge,
			UserAgent:  ua,
			InstanceID: c.instance,
			RegID:      c.regID,
			Updated:    now,
		})
	}
	if opt.MaxContacts > 0 {
		if adding > opt.MaxContacts {
			return reject(403, ReasonTooMany).withAOR(aor)
		}
		u.MaxContacts = opt.MaxContacts
	}
	return Decision{Reply: 200, Reason: "OK", Update: u, AOR: aor}
}

// toAOR returns the AOR of the To header, or "" and the 400 to answer.
func toAOR(m *sipmsg.Msg) (string, Decision) {
	to, err := m.To()
	switch {
	case errors.Is(err, sipmsg.ErrMissingHeader):
		return "", reject(400, ReasonToMissing)
	case err != nil:
		return "", reject(400, ReasonToInvalid)
	case to.URI.Scheme != "sip" && to.URI.Scheme != "sips":
		return "", reject(400, ReasonToNotSIP)
	case to.URI.User == "":
		return "", reject(400, ReasonToNoUser)
	}
	aor, err := location.ParseAOR(to.URI.Raw)
	if err != nil {
		return "", reject(400, ReasonToInvalid)
	}
	return aor, Decision{}
}

// paths returns the Path values (RFC 3327) in order, each checked to be a
// name-addr; false when one is not.
func paths(m *sipmsg.Msg) ([]string, bool) {
	var out []string
	for _, row := range m.Values(sipmsg.HPath) {
		for _, elem := range sipmsg.SplitList(row) {
			if _, err := sipmsg.ParseNameAddr(elem); err != nil {
				return nil, false
			}
			out = append(out, elem)
		}
	}
	return out, true
}

func reject(status int, reason string, headers ...string) Decision {
	return Decision{Reply: status, Reason: reason, Headers: headers}
}

func (d Decision) withAOR(aor string) Decision {
	d.AOR = aor
	return d
}
