package sipmsg

import (
	"os"
	"testing"
)

// readInvite900 reads the shared benchmark message (testdata/invite900.sip:
// an INVITE with SDP, 953 bytes, 14 header lines).
func readInvite900(b *testing.B) []byte {
	raw, err := os.ReadFile("testdata/invite900.sip")
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func BenchmarkIndex(b *testing.B) {
	raw := readInvite900(b)
	var m Msg
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := m.Parse(raw, Datagram); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	raw := readInvite900(b)
	var m Msg
	if err := m.Parse(raw, Datagram); err != nil {
		b.Fatal(err)
	}
	opt := CheckOptions{Role: RoleEndpoint, Methods: tortureMethods, Accept: tortureAccept, Supported: tortureSupported}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if f := Check(&m, opt); f != nil {
			b.Fatal(f)
		}
	}
}

func BenchmarkFramer(b *testing.B) {
	raw := readInvite900(b)
	var f Framer
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, n, err := f.Next(raw); n != len(raw) || err != nil {
			b.Fatal(n, err)
		}
	}
}
