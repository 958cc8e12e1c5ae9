package sipmsg

import (
	"os"
	"path/filepath"
	"testing"
)

// loadInvite900 reads the shared ~900-byte INVITE fixture.
func loadInvite900(b *testing.B) *Msg {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "invite900.sip"))
	if err != nil {
		b.Fatalf("fixture testdata/invite900.sip missing: %v", err)
	}
	m, err := Parse(raw, Datagram)
	if err != nil {
		b.Fatalf("Parse: %v", err)
	}
	return m
}

// BenchmarkTyped builds the views a proxy reads for every request.
func BenchmarkTyped(b *testing.B) {
	m := loadInvite900(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(m.Raw)))
	for b.Loop() {
		if _, err := m.From(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.To(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Vias(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.CSeq(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Contacts(); err != nil {
			b.Fatal(err)
		}
		if m.CallID() == "" {
			b.Fatal("no Call-ID")
		}
		if _, err := m.MaxForwards(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseURI(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseURI("sip:alice@pc33.atlanta.example.com:5060;transport=udp"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServerTxKey(b *testing.B) {
	m := loadInvite900(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ServerTxKey(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = CallKey("a84b4c76e66710@pc33.atlanta.example.com")
	}
}

func BenchmarkSignerToTag(b *testing.B) {
	m := loadInvite900(b)
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.ToTag(m)
	}
}

func BenchmarkReply(b *testing.B) {
	m := loadInvite900(b)
	opt := ReplyOptions{ToTag: "sl-0123456789abcdef0123", Server: "sipbus", Received: "192.0.2.1", RPort: 5060}
	b.ReportAllocs()
	for b.Loop() {
		_ = Reply(m, 486, "", opt)
	}
}
