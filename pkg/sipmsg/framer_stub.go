package sipmsg

import "errors"

// --- stream framing -------------------------------------------------------------

// Framer splits a byte stream (TCP) into messages by Content-Length.
type Framer struct {
	MaxHeader int // largest header section accepted; default 64 KiB
	MaxBody   int // largest body accepted; default 1 MiB
}

// ErrFrameTooLarge / ErrFrameBad are fatal for the connection.
var (
	ErrFrameTooLarge = errors.New("sipmsg: stream frame too large")
	ErrFrameBad      = errors.New("sipmsg: stream frame malformed")
)

// Next returns the length of the first complete message in buf (leading CRLF
// keep-alives are skipped: skip is how many bytes to drop before it), or n == 0
// when more data is needed.
func (f *Framer) Next(buf []byte) (skip, n int, err error) { panic("stub") }
