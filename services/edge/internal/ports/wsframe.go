package ports

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"unicode/utf8"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	wsCont   byte = 0x0
	wsText   byte = 0x1
	wsBinary byte = 0x2
	wsClose  byte = 0x8
	wsPing   byte = 0x9
	wsPong   byte = 0xA
)

// WebSocket close codes (RFC 6455 §7.4.1).
const (
	wsCloseNormal      = 1000
	wsCloseGoingAway   = 1001
	wsCloseProtocol    = 1002
	wsCloseInvalidData = 1007
	wsCloseTooBig      = 1009
)

// wsError is why the edge closes a WebSocket: the close code it sends and
// the reason it logs (and sends, it is fixed text).
type wsError struct {
	code   uint16
	reason string
}

func (e *wsError) Error() string { return fmt.Sprintf("websocket %d: %s", e.code, e.reason) }

func wsProtocolError(reason string) error { return &wsError{wsCloseProtocol, reason} }

// errWSIdle: nothing arrived within the read deadline, between frames
// (the connection is intact; a ping may follow).
var errWSIdle = errors.New("edge: websocket idle")

// wsReader reads what a client sends (RFC 6455 §5): every frame masked,
// no extension negotiated (RSV bits zero), control frames at most 125
// bytes and never fragmented, continuation frames only inside a
// fragmented message, a message (all its fragments) at most max bytes,
// checked before its payload is read, and a text message valid UTF-8.
type wsReader struct {
	r   *bufio.Reader
	max int
	msg []byte // the message being assembled; reused
	// inMsg: a fragmented message is being assembled (msgOp is its
	// opcode); control frames may come between its fragments.
	inMsg bool
	msgOp byte
	ctl   [125]byte
	// tooBig is the size the last message would have had, when it went
	// over max (for the log line).
	tooBig int64
}

// next returns the next complete data message (wsText or wsBinary) or a
// control frame (wsPing and wsClose need an answer; wsPong proves the
// peer alive). The payload is valid until the next call.
// Errors: errWSIdle, a *wsError (close the connection with its code), or
// the connection's own error.
func (w *wsReader) next() (op byte, payload []byte, err error) {
	if !w.inMsg {
		w.msg = w.msg[:0]
	}
	for {
		if _, err := w.r.Peek(1); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() && !w.inMsg {
				return 0, nil, errWSIdle
			}
			return 0, nil, err
		}
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return 0, nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		if h[0]&0x70 != 0 {
			return 0, nil, wsProtocolError("reserved bits set, no extension was negotiated")
		}
		if h[1]&0x80 == 0 {
			return 0, nil, wsProtocolError("unmasked frame from a client")
		}
		n := int64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return 0, nil, err
			}
			n = int64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return 0, nil, err
			}
			u := binary.BigEndian.Uint64(b[:])
			if u>>63 != 0 {
				return 0, nil, wsProtocolError("payload length with its top bit set")
			}
			n = int64(u)
		}
		var mask [4]byte
		if _, err := io.ReadFull(w.r, mask[:]); err != nil {
			return 0, nil, err
		}
		if op&0x8 != 0 {
			p, err := w.control(op, fin, n, mask)
			if err != nil {
				return 0, nil, err
			}
			return op, p, nil
		}
		switch {
		case op != wsCont && op != wsText && op != wsBinary:
			return 0, nil, wsProtocolError("reserved opcode")
		case op == wsCont && !w.inMsg:
			return 0, nil, wsProtocolError("continuation frame outside a fragmented message")
		case op != wsCont && w.inMsg:
			return 0, nil, wsProtocolError("new message inside a fragmented one")
		}
		if op != wsCont {
			w.msgOp = op
		}
		if size := int64(len(w.msg)) + n; size > int64(w.max) {
			w.tooBig = size
			return 0, nil, &wsError{wsCloseTooBig, "message too big"}
		}
		start := len(w.msg)
		w.msg = slices.Grow(w.msg, int(n))[:start+int(n)]
		if _, err := io.ReadFull(w.r, w.msg[start:]); err != nil {
			return 0, nil, err
		}
		unmask(w.msg[start:], mask)
		if w.inMsg = !fin; w.inMsg {
			continue
		}
		if w.msgOp == wsText && !utf8.Valid(w.msg) {
			return 0, nil, &wsError{wsCloseInvalidData, "text message is not UTF-8"}
		}
		return w.msgOp, w.msg, nil
	}
}

// control reads the payload of a control frame and checks it.
func (w *wsReader) control(op byte, fin bool, n int64, mask [4]byte) ([]byte, error) {
	switch {
	case op != wsClose && op != wsPing && op != wsPong:
		return nil, wsProtocolError("reserved opcode")
	case !fin:
		return nil, wsProtocolError("fragmented control frame")
	case n > 125:
		return nil, wsProtocolError("control frame over 125 bytes")
	}
	p := w.ctl[:n]
	if _, err := io.ReadFull(w.r, p); err != nil {
		return nil, err
	}
	unmask(p, mask)
	if op == wsClose {
		if err := checkClosePayload(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkClosePayload: empty, or a status code a peer may send and a UTF-8
// reason (RFC 6455 §5.5.1, §7.4).
func checkClosePayload(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if len(p) == 1 {
		return wsProtocolError("close frame with a one-byte payload")
	}
	code := binary.BigEndian.Uint16(p)
	switch {
	case code < 1000, code >= 1004 && code <= 1006, code >= 1015 && code < 3000, code >= 5000:
		return wsProtocolError("close frame with a status code a peer may not send")
	}
	if !utf8.Valid(p[2:]) {
		return &wsError{wsCloseInvalidData, "close reason is not UTF-8"}
	}
	return nil
}

func unmask(b []byte, mask [4]byte) {
	for i := range b {
		b[i] ^= mask[i&3]
	}
}

// wsAppendFrame appends one unmasked, final frame (a server's, RFC 6455
// §5.2) of op with payload p.
func wsAppendFrame(dst []byte, op byte, p []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(p); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, p...)
}

// wsDataOp is the opcode a SIP message goes in (RFC 7118 §5.2): text when
// it is UTF-8, else binary (a body that is not text).
func wsDataOp(b []byte) byte {
	if utf8.Valid(b) {
		return wsText
	}
	return wsBinary
}

// wsClosePayload is the payload of a close frame with code and reason.
func wsClosePayload(code uint16, reason string) []byte {
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), code)
	return append(p, reason...)
}
