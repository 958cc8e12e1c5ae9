package location

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// ParseAOR returns the address-of-record the location service keys bindings
// by: "user@host", made from a SIP or SIPS URI (a Request-URI or the URI of a
// To header), e.g. "sip:Alice@Example.COM:5060;transport=udp" gives
// "Alice@example.com".
//
// Decisions:
//   - the user part keeps its case: RFC 3261 §19.1.4 compares userinfo
//     case-sensitively. Its escaping is made canonical ("%61lice" and
//     "alice" are the same AOR; a user with an '@' keeps it escaped), so
//     every spelling of one URI gives one AOR;
//   - the host is lower-cased (an IPv6 address in brackets);
//   - scheme, password, port, uri-parameters and headers are dropped, as
//     Kamailio's usrloc does with use_domain: sip: and sips: of one user
//     are one AOR;
//   - a URI without a user part is ErrInvalid ("No username in To URI");
//   - uri may also be a bare "user@host" (read as sip:) or a name-addr
//     ("Alice <sip:alice@example.com>"), which management commands get.
func ParseAOR(uri string) (string, error) {
	s := strings.TrimSpace(uri)
	var u sipmsg.URI
	var err error
	switch {
	case strings.ContainsAny(s, "<\""):
		var na sipmsg.NameAddr
		na, err = sipmsg.ParseNameAddr(s)
		u = na.URI
	case strings.Contains(s, "@") && !hasScheme(s):
		u, err = sipmsg.ParseURI("sip:" + s)
	default:
		u, err = sipmsg.ParseURI(s)
	}
	if err != nil {
		return "", fmt.Errorf("%w: address-of-record %q: %v", ErrInvalid, uri, err)
	}
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return "", fmt.Errorf("%w: address-of-record %q is not a sip or sips URI", ErrInvalid, uri)
	}
	if u.User == "" {
		return "", fmt.Errorf("%w: address-of-record %q has no user part", ErrInvalid, uri)
	}
	c := sipmsg.URI{Scheme: "sip", User: u.User, Host: u.Host}
	return strings.TrimPrefix(c.String(), "sip:"), nil
}

// hasScheme reports whether s starts with "scheme:" before any '@'.
func hasScheme(s string) bool {
	colon := strings.IndexByte(s, ':')
	at := strings.IndexByte(s, '@')
	return colon > 0 && (at < 0 || colon < at)
}

// SameContact reports whether two Contact URIs name the same binding, by the
// parts of the RFC 3261 §19.1.4 comparison that matter for binding identity:
// scheme (sip and sips differ), user and password (case-sensitive, escapes
// decoded), host (case-insensitive), port (absent differs from 5060), the
// transport, user, maddr, ttl and method parameters (absent differs from
// present, values case-insensitive) and the headers. Other URI parameters
// are ignored: §19.1.4 ignores a parameter only one URI has but compares
// one both have, which is not transitive; binding identity needs an
// equivalence (it is a hash key), so such parameters are ignored in both
// cases. Non-SIP URIs compare by scheme (case-insensitive) and the rest as
// written. When either is not a URI, they are the same only when
// byte-equal.
func SameContact(a, b string) bool {
	ka, errA := contactKey(a)
	kb, errB := contactKey(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return ka == kb
}

// identityParams are the uri-parameters that take part in SameContact, in
// the (sorted) order contactKey writes them.
var identityParams = []string{"maddr", "method", "transport", "ttl", "user"}

// contactKey returns the canonical form of a Contact URI that SameContact
// compares; an error (wrapping ErrInvalid) when it is not a URI.
func contactKey(contact string) (string, error) {
	if contact == "" {
		return "", fmt.Errorf("%w: empty contact", ErrInvalid)
	}
	u, err := sipmsg.ParseURI(contact)
	if err != nil {
		return "", fmt.Errorf("%w: contact %q: %v", ErrInvalid, contact, err)
	}
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return u.Scheme + ":" + u.Opaque, nil
	}
	k := sipmsg.URI{Scheme: u.Scheme, User: u.User, Password: u.Password, Host: u.Host, Port: u.Port, Headers: u.Headers}
	for _, name := range identityParams {
		if v, ok := u.Params.Get(name); ok {
			k.Params = append(k.Params, sipmsg.Param{Name: name, Value: strings.ToLower(v)})
		}
	}
	return k.String(), nil
}

// outbound reports whether b is identified by its instance and reg-id (RFC
// 5626 §6) rather than its Contact URI.
func outbound(b *Binding) bool { return b.InstanceID != "" && b.RegID > 0 }

// fieldOf returns the Redis hash field (and memory map key) of a binding:
// the canonical contact, followed for an RFC 5626 binding by its instance
// and reg-id, so two flows of one instance with the same Contact URI are two
// bindings. Every field starts with the canonical contact and a space or
// nothing (URIs hold no space), which is how Remove finds a contact's
// bindings.
func fieldOf(key string, b *Binding) string {
	if !outbound(b) {
		return key
	}
	return key + " instance=" + b.InstanceID + " reg-id=" + strconv.Itoa(b.RegID)
}

// fieldMatches reports whether field belongs to the canonical contact key.
func fieldMatches(field, key string) bool {
	return field == key || (strings.HasPrefix(field, key) && field[len(key)] == ' ')
}

// validAOR checks an AOR used as a key: non-empty, printable, no space and no
// '{' or '}' (the AOR is the Redis hash tag). ParseAOR never makes one that
// fails.
func validAOR(aor string) error {
	if aor == "" {
		return fmt.Errorf("%w: empty AOR", ErrInvalid)
	}
	if i := strings.IndexFunc(aor, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '{' || r == '}' }); i >= 0 {
		return fmt.Errorf("%w: AOR %q holds a space, control character or brace", ErrInvalid, aor)
	}
	return nil
}

// sortBindings orders bindings by q descending, then most recently updated
// first, then by contact (so the order is total).
func sortBindings(bs []Binding) {
	slices.SortFunc(bs, func(a, b Binding) int {
		qa, qb := qMilli(a.Q), qMilli(b.Q)
		switch {
		case qa != qb:
			return qb - qa
		case !a.Updated.Equal(b.Updated):
			return b.Updated.Compare(a.Updated)
		case a.AOR != b.AOR:
			return strings.Compare(a.AOR, b.AOR)
		case a.Contact != b.Contact:
			return strings.Compare(a.Contact, b.Contact)
		}
		return strings.Compare(a.InstanceID+" "+strconv.Itoa(a.RegID), b.InstanceID+" "+strconv.Itoa(b.RegID))
	})
}

// kindRank orders change kinds in SortChanges.
var kindRank = map[ChangeKind]int{Expired: 0, Removed: 1, Refreshed: 2, Added: 3}

// SortChanges puts changes in the order both engines return them: expired,
// removed, refreshed, then added; within a kind by contact (then instance
// and reg-id).
func SortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		if ra, rb := kindRank[a.Kind], kindRank[b.Kind]; ra != rb {
			return ra - rb
		}
		if c := strings.Compare(a.Binding.Contact, b.Binding.Contact); c != 0 {
			return c
		}
		if c := strings.Compare(a.Binding.InstanceID, b.Binding.InstanceID); c != 0 {
			return c
		}
		return a.Binding.RegID - b.Binding.RegID
	})
}
