package app

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSipfrag is the error of a message/sipfrag body that is not a SIP
// status line (RFC 3420; RFC 3515 §2.4.5 requires NOTIFY bodies of a REFER
// subscription to start with one).
var ErrSipfrag = errors.New("ctd: bad message/sipfrag")

// MaxSipfrag is the largest sipfrag body parsed; a longer one is refused.
const MaxSipfrag = 8 << 10

// Sipfrag is the status line of a message/sipfrag body.
type Sipfrag struct {
	Status int    // 100..699
	Reason string // reason phrase, control characters removed, at most 128 bytes
}

// ParseSipfrag reads the status line at the start of body ("SIP/2.0 180
// Ringing"). Lines may end in CRLF, bare LF or bare CR (phones send all
// three); headers after the status line are ignored. The version is
// compared case-insensitively; leading blank lines are skipped.
func ParseSipfrag(body []byte) (Sipfrag, error) {
	if len(body) > MaxSipfrag {
		return Sipfrag{}, fmt.Errorf("%w: body over %d bytes", ErrSipfrag, MaxSipfrag)
	}
	s := string(body)
	s = strings.TrimLeft(s, "\r\n")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	ver, rest, ok := strings.Cut(s, " ")
	if !ok || !strings.EqualFold(ver, "SIP/2.0") {
		return Sipfrag{}, fmt.Errorf("%w: no status line SIP/2.0 <code> <reason>", ErrSipfrag)
	}
	rest = strings.TrimLeft(rest, " ")
	code, reason, _ := strings.Cut(rest, " ")
	if len(code) != 3 {
		return Sipfrag{}, fmt.Errorf("%w: status code %q is not 3 digits", ErrSipfrag, clean(code, 16))
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 699 {
		return Sipfrag{}, fmt.Errorf("%w: status code %q out of 100..699", ErrSipfrag, clean(code, 16))
	}
	return Sipfrag{Status: n, Reason: clean(strings.TrimSpace(reason), 128)}, nil
}

// clean drops control characters and bytes that are not valid UTF-8 and
// caps s at max bytes: text from the network on its way to logs, events
// and the SSE stream.
func clean(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			continue
		}
		if b.Len()+len(string(r)) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Clean is clean for the shell: text from the network, made safe to log.
func Clean(s string, max int) string { return clean(s, max) }
