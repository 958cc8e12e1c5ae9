package sipmsg

import (
	"os"
	"path/filepath"
	"testing"
)

// seedFiles are every message under testdata.
func seedFiles(f *testing.F) [][]byte {
	var out [][]byte
	for _, pat := range []string{"testdata/*/*.dat", "testdata/*.sip"} {
		paths, _ := filepath.Glob(pat)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) < 50 {
		f.Fatalf("only %d seed files", len(out))
	}
	return out
}

// FuzzParse: Parse never panics, every span lies within Raw, and Check and
// the typed views never panic on what Parse accepts.
func FuzzParse(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, stream bool) {
		fr := Datagram
		if stream {
			fr = Stream
		}
		var m Msg
		if err := m.Parse(raw, fr); err != nil {
			return
		}
		in := func(what string, s Span) {
			if uint64(s.Off)+uint64(s.Len) > uint64(len(raw)) {
				t.Fatalf("%s span %+v outside %d bytes", what, s, len(raw))
			}
		}
		in("method", m.Method)
		in("request-uri", m.RequestURI)
		in("version", m.Version)
		in("reason", m.Reason)
		in("body", m.Body)
		for _, h := range m.Headers {
			in("name", h.Name)
			in("value", h.Value)
			_ = m.HeaderValue(h)
		}
		if m.ContentLength >= 0 && int(m.Body.Len) > m.ContentLength {
			t.Fatalf("body %d longer than Content-Length %d", m.Body.Len, m.ContentLength)
		}
		for _, r := range []Role{RoleNone, RoleProxy, RoleEndpoint, RoleRegistrar} {
			Check(&m, CheckOptions{Framing: fr, Role: r, Methods: tortureMethods, Accept: tortureAccept, AuthSchemes: []string{"Digest"}})
		}
		_, _ = m.RequestURIParsed()
		_, _ = m.Vias()
		_, _ = m.TopVia()
		_, _ = m.From()
		_, _ = m.To()
		_ = m.CallID()
		_, _ = m.CSeq()
		_, _ = m.Contacts()
		_, _ = m.Routes()
		_, _ = m.RecordRoutes()
		_, _ = m.MaxForwards()
		_, _ = m.Expires()
		_ = m.Require()
		_ = m.ProxyRequire()
		_ = m.Supported()
		_ = m.ContentType()
	})
}

// FuzzFramer: feeding a stream in chunks gives the same frames (and the
// same error) as feeding it at once.
func FuzzFramer(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(append(append([]byte("\r\n\r\n"), b...), b...), uint8(3), uint16(0))
	}
	f.Fuzz(func(t *testing.T, stream []byte, step uint8, maxHeader uint16) {
		fr := Framer{MaxHeader: int(maxHeader), MaxBody: 4096}
		whole, werr := frameAll(&fr, stream, 0)
		parts, perr := frameAll(&fr, stream, int(step)+1)
		if werr != perr || len(whole) != len(parts) {
			t.Fatalf("whole: %d frames %v; step %d: %d frames %v", len(whole), werr, int(step)+1, len(parts), perr)
		}
		for i := range whole {
			if whole[i] != parts[i] {
				t.Fatalf("frame %d differs", i)
			}
		}
	})
}
