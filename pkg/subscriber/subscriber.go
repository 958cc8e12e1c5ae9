package subscriber

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	_ "time/tzdata" // TZ names validate the same on every host, with or without /usr/share/zoneinfo
	"unicode"
	"unicode/utf8"

	"github.com/sipbus/sipbus/pkg/digest"
)

// Errors.
var (
	ErrNotFound = errors.New("subscriber: not found")
	ErrExists   = errors.New("subscriber: already exists")
	// ErrInvalid reports a bad AOR, field, password, cursor limit or key
	// prefix; the message names it.
	ErrInvalid     = errors.New("subscriber: invalid")
	ErrUnavailable = errors.New("subscriber: unavailable")
)

// Limits.
const (
	// MinPasswordLen is the fewest characters SetPassword accepts. It is
	// low because SIP phones are provisioned from keypads; a provisioning
	// UI should ask for more.
	MinPasswordLen = 6
	// MaxPasswordLen bounds what SetPassword hashes.
	MaxPasswordLen = 128
	// MaxNameLen is the most characters (runes) of Name.
	MaxNameLen = 128
	// MaxEmailLen is the most bytes of Email (RFC 5321 path limit).
	MaxEmailLen = 254
	// MaxListLimit caps List's limit.
	MaxListLimit = 1000
	// MaxTZLen is the most bytes of TZ.
	MaxTZLen = 64
)

// Subscriber is one entry of the directory.
type Subscriber struct {
	// AOR is "user@domain"; see ParseAOR for what is accepted and the
	// canonical form the directory stores.
	AOR string
	// HA1MD5 and HA1SHA256 are digest.HA1 of the user part, realm = domain
	// and the password, in hex (stored lower-case); "" when unset.
	HA1MD5    string
	HA1SHA256 string
	// Name is the display name: any UTF-8 without control characters, at
	// most MaxNameLen characters.
	Name string
	// Email is a bare address ("bob@example.com": no display name, no
	// angle brackets, no CR or LF), or "".
	Email string
	// MissedCallOptOut turns the missed-call mail off; it is on by default
	// (for a subscriber with an Email).
	MissedCallOptOut bool
	// TZ is the IANA time zone of the subscriber's notifications
	// ("Europe/Paris"), or "" for UTC. "Local" is refused: it would be
	// whatever zone the notifier's host is set to.
	TZ      string
	Enabled bool
	// Admin lets the subscriber manage every subscriber on the web page
	// (services/web); off by default (`sipbus user add|set --admin on`).
	Admin bool
	// Created is set by Add (a non-zero Created given to Add is kept, for
	// imports) and kept by Update; Updated is set by Add and Update.
	Created, Updated time.Time
}

// Directory stores subscribers. Methods accept any AOR spelling ParseAOR
// accepts; an invalid one is ErrInvalid.
type Directory interface {
	// Add stores a new subscriber; ErrExists when its AOR is present.
	Add(ctx context.Context, s Subscriber) error
	// Get returns the subscriber of aor or ErrNotFound.
	Get(ctx context.Context, aor string) (Subscriber, error)
	// Update replaces every field but AOR and Created; ErrNotFound when
	// absent.
	Update(ctx context.Context, s Subscriber) error
	// Remove deletes the subscriber of aor; ErrNotFound when absent.
	Remove(ctx context.Context, aor string) error
	// List returns up to limit subscribers (1..MaxListLimit; more is
	// capped) whose AOR sorts after cursor ("" starts at the beginning),
	// sorted by AOR byte-wise, and the cursor of the next page ("" after
	// the last page).
	List(ctx context.Context, cursor string, limit int) (subs []Subscriber, next string, err error)
}

// SetPassword sets both HA1 values from password for realm = the AOR's
// domain and username = its user part (see the package doc); the password
// itself is not kept. It needs a valid AOR and a password of MinPasswordLen
// to MaxPasswordLen characters of valid UTF-8. Errors wrap ErrInvalid and
// never contain the password.
func (s *Subscriber) SetPassword(password string) error {
	user, domain, err := ParseAOR(s.AOR)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if !utf8.ValidString(password) {
		return fmt.Errorf("%w: set password of %s: password is not valid UTF-8", ErrInvalid, user+"@"+domain)
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || n > MaxPasswordLen {
		return fmt.Errorf("%w: set password of %s: password has %d characters, want %d to %d", ErrInvalid, user+"@"+domain, n, MinPasswordLen, MaxPasswordLen)
	}
	s.HA1MD5 = digest.HA1(digest.MD5, user, domain, password)
	s.HA1SHA256 = digest.HA1(digest.SHA256, user, domain, password)
	return nil
}

// HA1 returns the stored HA1 for alg (digest.Credentials.HashAlgorithm),
// "" for an algorithm it has none for.
func (s Subscriber) HA1(alg digest.Algorithm) string {
	switch alg {
	case digest.MD5:
		return s.HA1MD5
	case digest.SHA256:
		return s.HA1SHA256
	}
	return ""
}

// Validate reports every problem of s, joined; each wraps ErrInvalid and
// names the field.
func (s Subscriber) Validate() error {
	_, err := normalize(s)
	return err
}

// normalize validates s and returns it with its canonical AOR and
// lower-case HA1 values.
func normalize(s Subscriber) (Subscriber, error) {
	var errs []error
	aor, err := CanonicalAOR(s.AOR)
	if err != nil {
		errs = append(errs, err)
	}
	s.AOR = aor
	name := s.AOR
	if name == "" {
		name = "subscriber"
	}
	s.HA1MD5 = strings.ToLower(s.HA1MD5)
	s.HA1SHA256 = strings.ToLower(s.HA1SHA256)
	if s.HA1MD5 != "" && !isHexLen(s.HA1MD5, 32) {
		errs = append(errs, fmt.Errorf("%w: %s: HA1MD5 is not 32 hex digits", ErrInvalid, name))
	}
	if s.HA1SHA256 != "" && !isHexLen(s.HA1SHA256, 64) {
		errs = append(errs, fmt.Errorf("%w: %s: HA1SHA256 is not 64 hex digits", ErrInvalid, name))
	}
	if err := checkName(s.Name); err != nil {
		errs = append(errs, fmt.Errorf("%w: %s: Name %w", ErrInvalid, name, err))
	}
	if err := checkEmail(s.Email); err != nil {
		errs = append(errs, fmt.Errorf("%w: %s: Email %w", ErrInvalid, name, err))
	}
	if err := CheckTZ(s.TZ); err != nil {
		errs = append(errs, fmt.Errorf("%w: %s: TZ %w", ErrInvalid, name, err))
	}
	return s, errors.Join(errs...)
}

// CheckTZ reports why tz is not a time zone a subscriber may have: ""
// (UTC) or an IANA name such as "Europe/Paris" (the Go runtime's own copy
// of the database, so every host agrees).
func CheckTZ(tz string) error {
	switch {
	case tz == "":
		return nil
	case len(tz) > MaxTZLen:
		return fmt.Errorf("is longer than %d bytes", MaxTZLen)
	case strings.ContainsFunc(tz, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) || !utf8.ValidString(tz):
		return fmt.Errorf("%q is not a time zone name", tz)
	case tz == "Local":
		return errors.New(`"Local" is the host's zone: name the zone, such as Europe/Paris`)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Errorf("%q is not an IANA time zone (such as Europe/Paris or America/New_York)", tz)
	}
	return nil
}

// Location is the time zone of s's notifications (UTC when TZ is "" or
// unknown).
func (s Subscriber) Location() *time.Location {
	if s.TZ == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(s.TZ)
	if err != nil {
		return time.UTC
	}
	return loc
}

// MissedCallEmail reports whether a missed call of s is mailed: s has an
// e-mail address, is enabled, and has not opted out.
func (s Subscriber) MissedCallEmail() bool {
	return s.Email != "" && s.Enabled && !s.MissedCallOptOut
}

func checkName(n string) error {
	switch {
	case !utf8.ValidString(n):
		return errors.New("is not valid UTF-8")
	case utf8.RuneCountInString(n) > MaxNameLen:
		return fmt.Errorf("has more than %d characters", MaxNameLen)
	case strings.ContainsFunc(n, unicode.IsControl):
		return errors.New("has control characters")
	}
	return nil
}

func checkEmail(e string) error {
	if e == "" {
		return nil
	}
	if strings.ContainsAny(e, "\r\n") {
		return errors.New("contains CR or LF")
	}
	if len(e) > MaxEmailLen {
		return fmt.Errorf("is longer than %d bytes", MaxEmailLen)
	}
	a, err := mail.ParseAddress(e)
	if err != nil {
		return fmt.Errorf("%q is not an e-mail address: %w", e, err)
	}
	if a.Name != "" || a.Address != e {
		return fmt.Errorf("%q: want a bare address such as bob@example.com, without display name, brackets or comments", e)
	}
	return nil
}

func isHexLen(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

// checkLimit validates List's limit and caps it.
func checkLimit(limit int) (int, error) {
	if limit < 1 {
		return 0, fmt.Errorf("%w: list limit %d: must be at least 1", ErrInvalid, limit)
	}
	return min(limit, MaxListLimit), nil
}

// createdTime is the Created that Add stores: the given one, else now.
func createdTime(given, now time.Time) time.Time {
	if given.IsZero() {
		return now
	}
	return msTime(given)
}

// msTime truncates t to the millisecond precision both engines store.
func msTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }
