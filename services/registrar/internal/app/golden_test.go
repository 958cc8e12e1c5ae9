package app

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// TestGoldenRegister runs a realistic REGISTER (RFC 5626 contact, a
// removal, Path, folded Contact row) through Decide, a location store and
// OK, and compares the 200 byte for byte with testdata/register.200.golden.
func TestGoldenRegister(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "register.sip"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := sipmsg.Parse(raw, sipmsg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if f := sipmsg.Check(m, sipmsg.CheckOptions{Role: sipmsg.RoleRegistrar, Framing: sipmsg.Stream}); f != nil {
		t.Fatalf("fixture fails Check: %v", f)
	}
	d := Decide(m, Source{Transport: "tcp", Received: "tcp:f-17", Edge: "edge-1"}, now, Options{Domains: []string{"example.com"}})
	if d.Update == nil {
		t.Fatalf("Decide = %+v, want an update", d)
	}
	s := location.NewMemory()
	bs, changes, err := s.Apply(t.Context(), *d.Update)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Kind != location.Added || bs[0].Path[0] != "<sip:edge-1.example.com;lr;ob>" || !bs[0].Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("changes = %+v, bindings = %+v", changes, bs)
	}
	got := OK(m, bs, now, sipmsg.ReplyOptions{ToTag: "reg-7f3a", Server: "sipbus-registrar"})
	golden := filepath.Join("testdata", "register.200.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("200 OK:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}
