package app

import (
	"crypto/sha256"
	"encoding/hex"
	htmltemplate "html/template"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// Mail is one message to send: one recipient, a subject and two parts.
// The sender adds From, Reply-To and Date.
type Mail struct {
	Key       string // idempotency key (the fence); also the X-Sipbus-Key header
	EventID   string // the event it notifies about ("" for a digest); X-Sipbus-Event
	MessageID string // without angle brackets; the same for every attempt
	To        Address
	Subject   string // one line (Text); the sender encodes it (EncodeHeader)
	Text      string
	HTML      string
}

// Address is a mailbox: Addr is a bare address from the subscriber
// directory (validated there), Name a display name already through Text.
type Address struct{ Name, Addr string }

// Options are what the mails need from the configuration.
type Options struct {
	// Domain is the right-hand side of Message-IDs (the From domain by
	// default).
	Domain string
	// WebURL is a page with the user's calls, linked from the mails when
	// set (an http or https URL, checked by the configuration).
	WebURL string
	// Limit and Window are the rate limit, quoted in the digest.
	Limit  int
	Window time.Duration
}

// Party is a caller or callee as a template shows it.
type Party struct {
	Name    string // display name, else the URI: always something to show
	URI     string // the URI as text
	AOR     string // callee: user@domain
	ShowURI bool   // Name is a display name, so the URI goes beside it
}

// MissedView is what the missed-call templates get.
type MissedView struct {
	Caller, Callee Party
	Reason         string // ReasonWords: "was busy", ...
	Sentence       string // ReasonSentence: "You were busy."
	ReasonCode     string // events.Missed...: "busy", ...
	Status         int    // the final SIP status
	Time           string // when the call ended, in the callee's zone
	TimeZone       string // IANA name
	Callback       string // CallbackURI of the caller, "" when there is no safe one
	CallbackHref   htmltemplate.URL
	WebURL         string
	WebHref        htmltemplate.URL
	MessageID      string
}

// DigestCall is one folded call in the digest.
type DigestCall struct {
	Caller Party
	Time   string
	Reason string
}

// DigestView is what the digest templates get.
type DigestView struct {
	Callee      Party
	Count       int          // calls folded into this mail
	Calls       []DigestCall // the first MaxDigestCalls of them
	More        int          // Count - len(Calls)
	From, Until string       // the window, in the callee's zone
	TimeZone    string
	Limit       int    // mails per window
	Window      string // the window's length ("1h0m0s")
	WebURL      string
	WebHref     htmltemplate.URL
	MessageID   string
}

// MaxDigestCalls is the most calls a digest lists one by one.
const MaxDigestCalls = 20

// timeLayout is how a mail shows a time.
const timeLayout = "Mon, 2 Jan 2006 15:04:05 MST"

// ReasonWords is a missed call's reason in words (issue 14's list).
func ReasonWords(reason string) string {
	switch reason {
	case events.MissedOffline:
		return "was offline"
	case events.MissedBusy:
		return "was busy"
	case events.MissedNoAnswer:
		return "did not answer"
	case events.MissedCancelled:
		return "caller hung up"
	case events.MissedDeclined:
		return "declined"
	case events.MissedRejected:
		return "could not be reached"
	}
	return "call failed"
}

// ReasonSentence says the reason to the callee.
func ReasonSentence(reason string) string {
	switch reason {
	case events.MissedOffline:
		return "You were offline: no phone of yours was registered."
	case events.MissedBusy:
		return "You were busy."
	case events.MissedNoAnswer:
		return "You did not answer."
	case events.MissedCancelled:
		return "The caller hung up before you answered."
	case events.MissedDeclined:
		return "You declined the call."
	case events.MissedRejected:
		return "The call could not be put through to you."
	}
	return "The call failed on its way to you."
}

// Keys of the notifications (the fence) and the ids of their failures.
func MailKey(eventID string) string { return "mail." + eventID }

// DigestKey is the key of the digest of callee's window w: the callee as
// its events.AORKey (so the key, and the Message-ID made of it, is a
// dot-atom).
func DigestKey(callee string, w int64) string {
	return "digest." + events.AORKey(callee) + "." + itoa(w)
}

// ExecKey is the key of rule's run on an event.
func ExecKey(rule, eventID string) string { return "exec." + rule + "." + eventID }

// FailureID names a notification in its failures: "nf-" and 16 hex digits
// of SHA-256 of its key.
func FailureID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "nf-" + hex.EncodeToString(sum[:8])
}

// MessageID is the Message-ID (without <>) of the mail with key: the key
// itself when it is a dot-atom of at most 128 characters (an operator can
// search for it), else "h." and 32 hex digits of its SHA-256; then "@"
// and domain. The same key always gives the same Message-ID, so a mail
// sent again after a crash can be recognised as the same mail.
func MessageID(key, domain string) string {
	local := key
	if !dotAtom(local) || len(local) > 128 {
		sum := sha256.Sum256([]byte(key))
		local = "h." + hex.EncodeToString(sum[:16])
	}
	return local + "@" + domain
}

// dotAtom reports RFC 5322 dot-atom-text.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' ||
			strings.IndexByte("!#$%&'*+/=?^_`{|}~-", c) >= 0) {
			return false
		}
	}
	return true
}

// CalleeAOR is the address of record a missed call was for: its
// Request-URI (what tm routed on), else the To URI, in the directory's
// canonical form. ok is false when neither is a sip: or sips: URI with a
// user.
func CalleeAOR(m *events.CallMissed) (string, bool) {
	for _, u := range []string{m.RequestURI, m.Callee.URI} {
		if u == "" {
			continue
		}
		user, domain, err := subscriber.ParseAOR(u)
		if err == nil {
			return user + "@" + domain, true
		}
	}
	return "", false
}

// Verdict says whether a missed call is mailed, and why not.
type Verdict struct {
	Mail bool
	Why  string // when not: "no subscriber", "no e-mail address", "opted out", "disabled"
}

// Decide is the mail decision for the callee's directory entry (found
// false: the callee is not a subscriber).
func Decide(s subscriber.Subscriber, found bool) Verdict {
	switch {
	case !found:
		return Verdict{Why: "no subscriber"}
	case s.Email == "":
		return Verdict{Why: "no e-mail address"}
	case s.MissedCallOptOut:
		return Verdict{Why: "opted out"}
	case !s.Enabled:
		return Verdict{Why: "disabled"}
	}
	return Verdict{Mail: true}
}

// caller makes the template Party of a network party.
func caller(p events.Party) Party {
	uri := Text(p.URI, MaxURIRunes)
	name := Text(p.Display, MaxNameRunes)
	if name == "" {
		return Party{Name: uri, URI: uri}
	}
	return Party{Name: name, URI: uri, ShowURI: true}
}

// callee makes the template Party of the subscriber a call was for.
func callee(s subscriber.Subscriber, p events.Party) Party {
	uri := "sip:" + s.AOR
	name := Text(s.Name, MaxNameRunes)
	if name == "" {
		name = Text(p.Display, MaxNameRunes)
	}
	if name == "" {
		name = s.AOR
	}
	return Party{Name: name, URI: uri, AOR: s.AOR, ShowURI: true}
}

// Missed composes the mail about one missed call for subscriber s
// (Decide said yes), key being MailKey of the event.
func (t *Templates) Missed(eventID string, m *events.CallMissed, s subscriber.Subscriber, o Options) (*Mail, error) {
	key := MailKey(eventID)
	loc := s.Location()
	at := m.EndedAt
	if at.IsZero() {
		at = m.StartedAt
	}
	v := MissedView{
		Caller: caller(m.Caller), Callee: callee(s, m.Callee),
		Reason: ReasonWords(m.Reason), Sentence: ReasonSentence(m.Reason), ReasonCode: Text(m.Reason, 32), Status: m.Status,
		Time: at.In(loc).Format(timeLayout), TimeZone: loc.String(),
		MessageID: MessageID(key, o.Domain),
	}
	if cb, ok := CallbackURI(m.Caller.URI); ok {
		v.Callback, v.CallbackHref = cb, htmltemplate.URL(cb)
	}
	if o.WebURL != "" {
		v.WebURL, v.WebHref = o.WebURL, htmltemplate.URL(o.WebURL)
	}
	mail := &Mail{Key: key, EventID: eventID, MessageID: v.MessageID,
		To: Address{Name: Text(s.Name, MaxNameRunes), Addr: s.Email}}
	return mail, t.fill(mail, TmplMissedSubject, TmplMissedText, TmplMissedHTML, v)
}

// Folded is one call folded into a digest, as the rate limiter keeps it.
type Folded struct {
	Caller  events.Party `json:"caller"`
	EndedAt time.Time    `json:"ended_at"`
	Reason  string       `json:"reason"`
}

// FoldedOf is the folded form of a missed call: the caller cut to what a
// digest shows.
func FoldedOf(m *events.CallMissed) Folded {
	at := m.EndedAt
	if at.IsZero() {
		at = m.StartedAt
	}
	return Folded{Caller: events.Party{Display: clip(m.Caller.Display, 1024), URI: clip(m.Caller.URI, 2048)},
		EndedAt: at, Reason: clip(m.Reason, 32)}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Digest composes the "and N more missed calls" mail closing callee s's
// window [start, end): count calls were folded, calls are the first of
// them.
func (t *Templates) Digest(s subscriber.Subscriber, w int64, start, end time.Time, count int, calls []Folded, o Options) (*Mail, error) {
	key := DigestKey(s.AOR, w)
	loc := s.Location()
	v := DigestView{
		Callee: callee(s, events.Party{}), Count: count,
		From: start.In(loc).Format(timeLayout), Until: end.In(loc).Format(timeLayout), TimeZone: loc.String(),
		Limit: o.Limit, Window: o.Window.String(), MessageID: MessageID(key, o.Domain),
	}
	for i, f := range calls {
		if i == MaxDigestCalls {
			break
		}
		v.Calls = append(v.Calls, DigestCall{Caller: caller(f.Caller), Time: f.EndedAt.In(loc).Format(timeLayout), Reason: ReasonWords(f.Reason)})
	}
	v.More = count - len(v.Calls)
	if o.WebURL != "" {
		v.WebURL, v.WebHref = o.WebURL, htmltemplate.URL(o.WebURL)
	}
	mail := &Mail{Key: key, MessageID: v.MessageID, To: Address{Name: Text(s.Name, MaxNameRunes), Addr: s.Email}}
	return mail, t.fill(mail, TmplDigestSubject, TmplDigestText, TmplDigestHTML, v)
}

// fill renders the three templates into m; the subject is made one line
// of at most MaxSubjectRunes again, whatever the template did.
func (t *Templates) fill(m *Mail, subject, text, html string, view any) error {
	s, err := t.render(subject, view)
	if err != nil {
		return err
	}
	m.Subject = Text(s, MaxSubjectRunes)
	if m.Text, err = t.render(text, view); err != nil {
		return err
	}
	m.HTML, err = t.render(html, view)
	return err
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func sampleMissed(when time.Time) MissedView {
	return MissedView{
		Caller: Party{Name: "Alice", URI: "sip:alice@example.com", ShowURI: true},
		Callee: Party{Name: "Bob", URI: "sip:bob@example.com", AOR: "bob@example.com", ShowURI: true},
		Reason: ReasonWords(events.MissedBusy), Sentence: ReasonSentence(events.MissedBusy), ReasonCode: events.MissedBusy,
		Status: 486, Time: when.Format(timeLayout), TimeZone: "UTC",
		Callback: "sip:alice@example.com", CallbackHref: "sip:alice@example.com",
		WebURL: "https://example.com/calls", WebHref: "https://example.com/calls", MessageID: "x@example.com",
	}
}

func sampleDigest(when time.Time) DigestView {
	return DigestView{
		Callee: Party{Name: "Bob", URI: "sip:bob@example.com", AOR: "bob@example.com", ShowURI: true},
		Count:  3, Calls: []DigestCall{{Caller: Party{Name: "Alice", URI: "sip:alice@example.com", ShowURI: true}, Time: when.Format(timeLayout), Reason: "was busy"}},
		More: 2, From: when.Format(timeLayout), Until: when.Add(time.Hour).Format(timeLayout), TimeZone: "UTC",
		Limit: 10, Window: "1h0m0s", WebURL: "https://example.com/calls", WebHref: "https://example.com/calls", MessageID: "x@example.com",
	}
}
