package sipmsg

import (
	"bytes"
	"errors"
)

// --- stream framing -------------------------------------------------------------

// Framer splits a byte stream (TCP, TLS) into messages by Content-Length
// (RFC 3261 §18.3). It keeps no state between calls and allocates nothing.
type Framer struct {
	MaxHeader int // largest header section accepted; default 64 KiB
	MaxBody   int // largest body accepted; default 1 MiB
}

// Default Framer limits.
const (
	DefaultMaxHeader = 64 << 10
	DefaultMaxBody   = 1 << 20
)

// ErrFrameTooLarge / ErrFrameBad are fatal for the connection.
var (
	ErrFrameTooLarge = errors.New("sipmsg: stream frame too large")
	ErrFrameBad      = errors.New("sipmsg: stream frame malformed")
)

// Next returns the length of the first complete message in buf (leading CRLF
// keep-alives are skipped: skip is how many bytes to drop before it), or n == 0
// when more data is needed.
//
// The header section ends at the first empty line (CRLF CRLF, or LF LF for
// peers that send bare LF). Content-Length is read from its long or compact
// ("l") form in any case; no Content-Length means an empty body. A negative,
// non-numeric or conflicting Content-Length gives ErrFrameBad, a header
// section or body over the limits ErrFrameTooLarge: close the connection.
func (f *Framer) Next(buf []byte) (skip, n int, err error) {
	for skip < len(buf) && (buf[skip] == '\r' || buf[skip] == '\n') {
		skip++
	}
	msg := buf[skip:]
	maxHeader, maxBody := f.MaxHeader, f.MaxBody
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeader
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	hdrEnd, bodyStart := findHeaderEnd(msg)
	if hdrEnd < 0 {
		// a header section within the limit is visible once maxHeader+2
		// bytes are in (its empty line is at most CRLF), so chunked and
		// whole reads fail alike
		if len(msg) >= maxHeader+2 {
			return skip, 0, ErrFrameTooLarge
		}
		return skip, 0, nil
	}
	if hdrEnd > maxHeader {
		return skip, 0, ErrFrameTooLarge
	}
	cl, err := frameContentLength(msg[:hdrEnd])
	if err != nil {
		return skip, 0, err
	}
	if cl > maxBody {
		return skip, 0, ErrFrameTooLarge
	}
	if len(msg)-bodyStart < cl {
		return skip, 0, nil
	}
	return skip, bodyStart + cl, nil
}

// findHeaderEnd finds the empty line closing the header section: the end of the
// last header line and the start of the body, or -1, -1.
func findHeaderEnd(b []byte) (hdrEnd, bodyStart int) {
	from := 0
	for {
		i := bytes.IndexByte(b[from:], '\n')
		if i < 0 {
			return -1, -1
		}
		i += from
		j := i + 1
		if j < len(b) && b[j] == '\r' {
			j++
		}
		if j < len(b) && b[j] == '\n' {
			return i + 1, j + 1
		}
		if j >= len(b) {
			return -1, -1
		}
		from = i + 1
	}
}

// frameContentLength reads Content-Length from a header section (0 when absent).
func frameContentLength(h []byte) (int, error) {
	cl := -1
	pos := 0
	for pos < len(h) {
		end, next := nextLine(h, pos)
		line := h[pos:end]
		pos = next
		c := bytes.IndexByte(line, ':')
		if c <= 0 || isSPHT(line[0]) {
			continue
		}
		name := line[:c]
		for len(name) > 0 && isSPHT(name[len(name)-1]) {
			name = name[:len(name)-1]
		}
		if !(len(name) == 1 && lowerByte(name[0]) == 'l') && !foldEq(name, "content-length") {
			continue
		}
		v := line[c+1:]
		for len(v) > 0 && isSPHT(v[0]) {
			v = v[1:]
		}
		for len(v) > 0 && isSPHT(v[len(v)-1]) {
			v = v[:len(v)-1]
		}
		n, ok := parseUintBytes(v, MaxMessageSize)
		if !ok {
			if len(v) > 0 && allDigitBytes(v) {
				return 0, ErrFrameTooLarge
			}
			return 0, ErrFrameBad
		}
		if cl >= 0 && cl != int(n) {
			return 0, ErrFrameBad
		}
		cl = int(n)
	}
	if cl < 0 {
		cl = 0
	}
	return cl, nil
}

// allDigitBytes reports whether b is 1*DIGIT.
func allDigitBytes(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
