package ports

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clientFrame is a frame as a client sends it: masked (RFC 6455 §5.3).
func clientFrame(fin bool, op byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(p); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, mask[:]...)
	for i, c := range p {
		out = append(out, c^mask[i&3])
	}
	return out
}

type wsRead struct {
	op   byte
	data string
}

func readAll(t *testing.T, in []byte, max int) ([]wsRead, error) {
	t.Helper()
	r := &wsReader{r: bufio.NewReader(bytes.NewReader(in)), max: max}
	var out []wsRead
	for {
		op, p, err := r.next()
		if err != nil {
			return out, err
		}
		out = append(out, wsRead{op, string(p)})
	}
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// TestWSReader: messages, fragments, control frames between fragments,
// and every protocol fault with the close code RFC 6455 gives it.
func TestWSReader(t *testing.T) {
	sip := "OPTIONS sip:a@b SIP/2.0\r\n\r\n"
	closeBody := func(code uint16, reason string) []byte { return wsClosePayload(code, reason) }
	for _, tc := range []struct {
		name string
		in   []byte
		max  int
		want []wsRead
		code uint16 // close code of the error; 0: the stream just ends
	}{
		{"one text message", clientFrame(true, wsText, []byte(sip)), 100, []wsRead{{wsText, sip}}, 0},
		{"binary", clientFrame(true, wsBinary, []byte{0xff, 0}), 100, []wsRead{{wsBinary, "\xff\x00"}}, 0},
		{"fragments with a ping between", cat(clientFrame(false, wsText, []byte("OPT")), clientFrame(true, wsPing, []byte("p")),
			clientFrame(false, wsCont, []byte("IONS")), clientFrame(true, wsPong, nil), clientFrame(true, wsCont, []byte(" x"))),
			100, []wsRead{{wsPing, "p"}, {wsPong, ""}, {wsText, "OPTIONS x"}}, 0},
		{"16-bit length", clientFrame(true, wsText, bytes.Repeat([]byte("a"), 300)), 1000, []wsRead{{wsText, strings.Repeat("a", 300)}}, 0},
		{"64-bit length", clientFrame(true, wsBinary, bytes.Repeat([]byte("b"), 70000)), 80000, []wsRead{{wsBinary, strings.Repeat("b", 70000)}}, 0},
		{"close", clientFrame(true, wsClose, closeBody(1000, "bye")), 100, []wsRead{{wsClose, "\x03\xe8bye"}}, 0},
		{"at the limit", clientFrame(true, wsText, bytes.Repeat([]byte("a"), 100)), 100, []wsRead{{wsText, strings.Repeat("a", 100)}}, 0},
		{"over the limit", clientFrame(true, wsText, bytes.Repeat([]byte("a"), 101)), 100, nil, wsCloseTooBig},
		{"fragments over the limit", cat(clientFrame(false, wsText, bytes.Repeat([]byte("a"), 60)), clientFrame(true, wsCont, bytes.Repeat([]byte("a"), 60))), 100, nil, wsCloseTooBig},
		{"huge declared length", append([]byte{0x82, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0}, 1, 2, 3, 4), 100, nil, wsCloseTooBig},
		{"length with the top bit", append([]byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1}, 1, 2, 3, 4), 100, nil, wsCloseProtocol},
		{"unmasked", []byte{0x81, 0x01, 'a'}, 100, nil, wsCloseProtocol},
		{"reserved bits", func() []byte { f := clientFrame(true, wsText, []byte("a")); f[0] |= 0x40; return f }(), 100, nil, wsCloseProtocol},
		{"reserved opcode", clientFrame(true, 0x3, []byte("a")), 100, nil, wsCloseProtocol},
		{"reserved control opcode", clientFrame(true, 0xb, nil), 100, nil, wsCloseProtocol},
		{"continuation first", clientFrame(true, wsCont, []byte("a")), 100, nil, wsCloseProtocol},
		{"new message inside a fragmented one", cat(clientFrame(false, wsText, []byte("a")), clientFrame(true, wsText, []byte("b"))), 100, nil, wsCloseProtocol},
		{"fragmented ping", clientFrame(false, wsPing, nil), 100, nil, wsCloseProtocol},
		{"long ping", clientFrame(true, wsPing, bytes.Repeat([]byte("p"), 126)), 1000, nil, wsCloseProtocol},
		{"text not UTF-8", clientFrame(true, wsText, []byte{0xc3, 0x28}), 100, nil, wsCloseInvalidData},
		{"close with one byte", clientFrame(true, wsClose, []byte{3}), 100, nil, wsCloseProtocol},
		{"close with code 1005", clientFrame(true, wsClose, closeBody(1005, "")), 100, nil, wsCloseProtocol},
		{"close reason not UTF-8", clientFrame(true, wsClose, append(closeBody(1000, ""), 0xff)), 100, nil, wsCloseInvalidData},
		{"truncated frame", clientFrame(true, wsText, []byte(sip))[:10], 100, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.in, tc.max)
			if len(got) != len(tc.want) {
				t.Fatalf("read %q, want %q (err %v)", got, tc.want, err)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("message %d: %q, want %q", i, got[i], tc.want[i])
				}
			}
			var we *wsError
			switch {
			case tc.code == 0 && errors.As(err, &we):
				t.Errorf("error %v, want the stream to end", err)
			case tc.code == 0 && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Errorf("error %v, want EOF", err)
			case tc.code != 0 && (!errors.As(err, &we) || we.code != tc.code):
				t.Errorf("error %v, want close code %d", err, tc.code)
			}
		})
	}
}

func TestWSAppendFrame(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte("x"), n)
		f := wsAppendFrame(nil, wsText, p)
		if f[0] != 0x81 || f[1]&0x80 != 0 {
			t.Fatalf("n=%d: header %x: want FIN text, unmasked", n, f[:2])
		}
		// A client reads it back: the same bytes with the mask bit set and a zero mask.
		hl := len(f) - n
		masked := append(append([]byte{f[0], f[1] | 0x80}, f[2:hl]...), 0, 0, 0, 0)
		got, err := readAll(t, append(masked, p...), 1<<20)
		if len(got) != 1 || len(got[0].data) != n {
			t.Fatalf("n=%d: read back %d messages (%v)", n, len(got), err)
		}
	}
	if op := wsDataOp([]byte("SIP/2.0 200 OK\r\n")); op != wsText {
		t.Errorf("text message sent as %x", op)
	}
	if op := wsDataOp([]byte{0xff}); op != wsBinary {
		t.Errorf("binary message sent as %x", op)
	}
}

const goodUpgrade = "GET /sip HTTP/1.1\r\nHost: 127.0.0.1:5066\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, sip\r\n"

// TestWSUpgrade: the opening handshake is accepted with the subprotocol sip
// (and RFC 6455's sample accept key), and refused with a status and text
// that name the problem.
func TestWSUpgrade(t *testing.T) {
	origins := []string{"https://phone.example.com"}
	for _, tc := range []struct {
		name, req string
		status    int
		text      string
	}{
		{"good", goodUpgrade + "\r\n", 101, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n"},
		{"same origin", goodUpgrade + "Origin: http://127.0.0.1:5066\r\n\r\n", 101, ""},
		{"allowed origin", goodUpgrade + "Origin: https://phone.example.com\r\n\r\n", 101, ""},
		{"other origin", goodUpgrade + "Origin: https://evil.example\r\n\r\n", 403, "origin not allowed"},
		{"null origin", goodUpgrade + "Origin: null\r\n\r\n", 403, "origin not allowed"},
		{"no sip subprotocol", strings.Replace(goodUpgrade, "chat, sip", "chat", 1) + "\r\n", 400, "Sec-WebSocket-Protocol must offer sip"},
		{"old version", strings.Replace(goodUpgrade, "Version: 13", "Version: 8", 1) + "\r\n", 426, "Sec-WebSocket-Version: 13"},
		{"bad key", strings.Replace(goodUpgrade, "dGhlIHNhbXBsZSBub25jZQ==", "short", 1) + "\r\n", 400, "Sec-WebSocket-Key"},
		{"plain HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426, "upgrade to websocket"},
		{"POST", strings.Replace(goodUpgrade, "GET", "POST", 1) + "\r\n", 405, "is a GET"},
		{"not HTTP", "OPTIONS sip:a@b SIP/2.0\r\n\r\n", 400, "malformed"},
		{"garbage", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := wsUpgrade(bufio.NewReader(strings.NewReader(tc.req)), &out, WSOptions{Origins: origins})
			resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(out.Bytes())), nil)
			if rerr != nil {
				t.Fatalf("answer %q is not HTTP: %v", out.String(), rerr)
			}
			if resp.StatusCode != tc.status || !strings.Contains(out.String(), tc.text) {
				t.Fatalf("answer %q, want %d with %q", out.String(), tc.status, tc.text)
			}
			if (err == nil) != (tc.status == 101) {
				t.Fatalf("error %v with status %d", err, resp.StatusCode)
			}
		})
	}
}

func TestCRLFKeepalive(t *testing.T) {
	for _, tc := range []struct {
		in          string
		drop, pings int
		arriving    bool // what is left may still become a ping
	}{
		{"\r\n\r\n", 4, 1, true},
		{"\r\n\r\n\r\n\r\nINVITE", 8, 2, false},
		{"\r\nINVITE", 2, 0, false},
		{"\r\n", 0, 0, true},
		{"\r\n\r", 0, 0, true},
		{"\r\n\r\n\r\n", 4, 1, true},
		{"INVITE", 0, 0, false},
		{"\n\nINVITE", 0, 0, false},
		{"", 0, 0, true},
	} {
		drop, pings := crlfKeepalive([]byte(tc.in))
		if drop != tc.drop || pings != tc.pings || pingArriving([]byte(tc.in)[drop:]) != tc.arriving {
			t.Errorf("crlfKeepalive(%q) = %d, %d, arriving %v; want %d, %d, %v", tc.in, drop, pings,
				pingArriving([]byte(tc.in)[drop:]), tc.drop, tc.pings, tc.arriving)
		}
	}
}

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter(2, time.Second)
	now := time.Unix(0, 0)
	for i := 0; i < 5; i++ {
		ok, _ := l.allow(now)
		if ok != (i < 2) {
			t.Fatalf("line %d allowed %v", i, ok)
		}
	}
	ok, suppressed := l.allow(now.Add(2 * time.Second))
	if !ok || suppressed != 3 {
		t.Fatalf("after the interval: %v, %d suppressed; want true, 3", ok, suppressed)
	}
}

// FuzzWSFrames: whatever a client sends after the handshake, the reader
// returns messages within the limit, text ones UTF-8, or an error; it
// never panics and never reads a message it has refused.
func FuzzWSFrames(f *testing.F) {
	f.Add(clientFrame(true, wsText, []byte("OPTIONS sip:a@b SIP/2.0\r\n\r\n")), 64)
	f.Add(cat(clientFrame(false, wsText, []byte("a")), clientFrame(true, wsPing, nil), clientFrame(true, wsCont, []byte("b"))), 64)
	f.Add(clientFrame(true, wsBinary, bytes.Repeat([]byte{0}, 200)), 100)
	f.Add(clientFrame(true, wsClose, wsClosePayload(1000, "x")), 10)
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, 10)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max <= 0 || max > 1<<16 {
			max = 1 << 10
		}
		r := &wsReader{r: bufio.NewReader(bytes.NewReader(in)), max: max}
		for i := 0; i < 1000; i++ {
			op, p, err := r.next()
			if err != nil {
				return
			}
			switch op {
			case wsText, wsBinary:
				if len(p) > max {
					t.Fatalf("message of %d bytes over the limit %d", len(p), max)
				}
			case wsPing, wsPong, wsClose:
				if len(p) > 125 {
					t.Fatalf("control payload of %d bytes", len(p))
				}
			default:
				t.Fatalf("opcode %x returned", op)
			}
		}
	})
}

// FuzzWSUpgrade: any request gets a 101 or an HTTP error, never a panic,
// and the answer never repeats what the peer sent beyond the accept key.
func FuzzWSUpgrade(f *testing.F) {
	f.Add(goodUpgrade + "\r\n")
	f.Add(goodUpgrade + "Origin: https://evil.example\r\n\r\n")
	f.Add("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	f.Add("OPTIONS sip:a@b SIP/2.0\r\n\r\n")
	f.Fuzz(func(t *testing.T, req string) {
		var out bytes.Buffer
		err := wsUpgrade(bufio.NewReader(io.LimitReader(strings.NewReader(req), maxHandshake)), &out, WSOptions{})
		resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(out.Bytes())), nil)
		if rerr != nil {
			t.Fatalf("answer %q is not HTTP: %v", out.String(), rerr)
		}
		if (err == nil) != (resp.StatusCode == 101) {
			t.Fatalf("error %v with status %d", err, resp.StatusCode)
		}
		if out.Len() > 512 || strings.Contains(out.String(), "<") {
			t.Fatalf("answer is not one of the fixed ones: %q", out.String())
		}
	})
}
