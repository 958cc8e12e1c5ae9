package app

import (
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// contact is one Contact value of a REGISTER as Decide reads it.
type contact struct {
	star     bool
	uri      string  // the URI as written, without <> and header parameters
	expires  int     // expires parameter; -1 when absent
	q        float64 // q parameter; -1 when absent
	instance string  // +sip.instance without the quotes; "" when absent
	regID    int     // reg-id; 0 when absent
}

// badContact is a Contact value Decide answers 400 for; the text is the
// reason phrase.
type badContact string

func (e badContact) Error() string { return string(e) }

// Reason phrases of the 400s for Contact values (named as Kamailio's
// P-Registrar-Error texts are).
const (
	reasonBadContact  = "Invalid Contact"
	reasonBadExpires  = "Invalid expires parameter in Contact"
	reasonBadQ        = "Invalid q parameter in Contact"
	reasonBadRegID    = "Invalid reg-id parameter in Contact"
	reasonBadInstance = "Invalid +sip.instance parameter in Contact"
)

// parseContacts reads every Contact value of every Contact row. sipmsg's
// Msg.Contacts does the same, but Decide needs to tell apart the faults it
// answers with different reasons (a "*" among other values, a bad q, a bad
// expires), so the values are split here and each is parsed with
// sipmsg.ParseNameAddr.
func parseContacts(m *sipmsg.Msg) ([]contact, error) {
	var out []contact
	for _, row := range m.Values(sipmsg.HContact) {
		for _, elem := range sipmsg.SplitList(row) {
			c, err := parseContact(elem)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// parseContact parses one Contact value.
func parseContact(elem string) (contact, error) {
	if elem == "*" {
		return contact{star: true, expires: -1, q: -1}, nil
	}
	na, err := sipmsg.ParseNameAddr(elem)
	if err != nil {
		return contact{}, badContact(reasonBadContact)
	}
	c := contact{uri: na.URI.Raw, expires: -1, q: -1}
	if v, ok := na.Params.Get("expires"); ok {
		n, ok := parseDelta(v)
		if !ok {
			return contact{}, badContact(reasonBadExpires)
		}
		c.expires = n
	}
	if v, ok := na.Params.Get("q"); ok {
		q, ok := sipmsg.ParseQ(v)
		if !ok {
			return contact{}, badContact(reasonBadQ)
		}
		c.q = q
	}
	if v, ok := na.Params.Get("+sip.instance"); ok {
		// The value is a quoted "<urn:...>" (RFC 5626 §4.1); quotes are
		// dropped, an unquoted value is taken as it is.
		inst := v
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			inst = v[1 : len(v)-1]
		}
		if inst == "" || strings.ContainsAny(inst, "\"\\") {
			return contact{}, badContact(reasonBadInstance)
		}
		c.instance = inst
	}
	if v, ok := na.Params.Get("reg-id"); ok {
		n, ok := parseDelta(v)
		if !ok || n < 1 || n > 1<<31-1 {
			return contact{}, badContact(reasonBadRegID)
		}
		if c.instance != "" {
			c.regID = n
		}
	}
	return c, nil
}

// parseDelta parses delta-seconds (1*DIGIT), clamping at 2^32-1.
func parseDelta(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int(c-'0')
		}
	}
	if n > maxDelta {
		n = maxDelta
	}
	return n, true
}
