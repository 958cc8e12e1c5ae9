package sipmsg

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFramerNext(t *testing.T) {
	msg := "OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabc"
	tests := []struct {
		name    string
		buf     string
		f       Framer
		skip, n int
		err     error
	}{
		{name: "one message", buf: msg, n: len(msg)},
		{name: "keep-alive CRLFCRLF", buf: "\r\n\r\n" + msg, skip: 4, n: len(msg)},
		{name: "keep-alive CRLF", buf: "\r\n" + msg + "junk", skip: 2, n: len(msg)},
		{name: "only keep-alive", buf: "\r\n\r\n", skip: 4},
		{name: "partial header", buf: "OPTIONS sip:a SIP/2.0\r\nl: 3\r\n", n: 0},
		{name: "partial body", buf: msg[:len(msg)-1], n: 0},
		{name: "no CL is empty body", buf: "OPTIONS sip:a SIP/2.0\r\n\r\nNEXT", n: 25},
		{name: "LF LF", buf: "OPTIONS sip:a SIP/2.0\nContent-Length: 1\n\nxy", n: 42},
		{name: "long name any case", buf: "OPTIONS sip:a SIP/2.0\r\ncontent-LENGTH : 1\r\n\r\nx", n: 46},
		{name: "negative CL", buf: "OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n", err: ErrFrameBad},
		{name: "garbage CL", buf: "OPTIONS sip:a SIP/2.0\r\nl: x\r\n\r\n", err: ErrFrameBad},
		{name: "conflicting CL", buf: "OPTIONS sip:a SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\n", err: ErrFrameBad},
		{name: "body too large", buf: "OPTIONS sip:a SIP/2.0\r\nl: 100\r\n\r\n", f: Framer{MaxBody: 10}, err: ErrFrameTooLarge},
		{name: "huge CL", buf: "OPTIONS sip:a SIP/2.0\r\nl: 99999999999999999999\r\n\r\n", err: ErrFrameTooLarge},
		{name: "header too large", buf: "OPTIONS sip:a SIP/2.0\r\nX: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", f: Framer{MaxHeader: 16}, err: ErrFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			skip, n, err := tc.f.Next([]byte(tc.buf))
			if skip != tc.skip || n != tc.n || err != tc.err {
				t.Fatalf("Next = %d, %d, %v; want %d, %d, %v", skip, n, err, tc.skip, tc.n, tc.err)
			}
		})
	}
}

func TestFramerZeroAlloc(t *testing.T) {
	raw, err := os.ReadFile("testdata/invite900.sip")
	if err != nil {
		t.Fatal(err)
	}
	var f Framer
	if a := testing.AllocsPerRun(100, func() { _, _, _ = f.Next(raw) }); a != 0 {
		t.Fatalf("Next allocates %v", a)
	}
}

// frameAll splits stream into frames feeding it in chunks of size step
// (0: all at once), the way a connection reader would.
func frameAll(f *Framer, stream []byte, step int) (frames []string, err error) {
	var buf []byte
	for off := 0; ; {
		if step == 0 {
			buf, off = append(buf, stream...), len(stream)
		} else if off < len(stream) {
			e := min(off+step, len(stream))
			buf, off = append(buf, stream[off:e]...), e
		}
		for {
			skip, n, err := f.Next(buf)
			if err != nil {
				return frames, err
			}
			buf = buf[skip:]
			if n == 0 {
				break
			}
			frames = append(frames, string(buf[:n]))
			buf = buf[n:]
		}
		if off >= len(stream) {
			return frames, nil
		}
	}
}

func TestFramerTorture(t *testing.T) {
	files, _ := filepath.Glob("testdata/rfc4475*/*.dat")
	var stream []byte
	want := 0
	for _, p := range files {
		b, _ := os.ReadFile(p)
		var m Msg
		if m.Parse(b, Datagram) != nil || m.ContentLength < 0 || m.ContentLength != int(m.Body.Len) || !m.Terminated {
			continue // not stream-framable as is (clerr, ncl, inv2543 ...)
		}
		end := int(m.Body.Off + m.Body.Len)
		stream = append(stream, "\r\n\r\n"...)
		stream = append(stream, b[:end]...)
		want++
	}
	var f Framer
	all, err := frameAll(&f, stream, 0)
	if err != nil || len(all) != want {
		t.Fatalf("%d frames, %v; want %d", len(all), err, want)
	}
	for _, step := range []int{1, 7, 100} {
		got, err := frameAll(&f, stream, step)
		if err != nil || len(got) != len(all) {
			t.Fatalf("step %d: %d frames, %v", step, len(got), err)
		}
		for i := range got {
			if got[i] != all[i] {
				t.Fatalf("step %d frame %d differs", step, i)
			}
		}
	}
}
