package adapters

import (
	"context"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

func TestLocationLookup(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	loc := location.NewMemory()
	dir := subscriber.NewMemory()
	add := func(b location.Binding) {
		t.Helper()
		b.Expires, b.Updated = now.Add(time.Hour), now
		if err := loc.Add(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	add(location.Binding{AOR: "nat@example.com", Contact: "sip:nat@10.0.0.5:5060", Q: 1, Received: "udp:203.0.113.7:40123", Transport: "udp",
		Path: []string{"<sip:edge1.example.com;lr>"}})
	add(location.Binding{AOR: "open@example.com", Contact: "sip:open@198.51.100.9:5070", Q: 0.5, Received: "udp:198.51.100.9:5070", Transport: "udp"})
	add(location.Binding{AOR: "third@example.com", Contact: "sip:third@198.51.100.20:5090", Q: 1, Received: "udp:198.51.100.9:5081", Transport: "udp"})
	add(location.Binding{AOR: "cgn@example.com", Contact: "sip:cgn@100.64.1.2", Q: 1, Received: "udp:203.0.113.8:5060", Transport: "udp"})
	add(location.Binding{AOR: "tcp@example.com", Contact: "sip:tcp@10.0.0.6:5060;transport=tcp", Q: 1, Received: "tcp:edge-a~7", Transport: "tcp"})
	add(location.Binding{AOR: "ws@example.com", Contact: "sip:k3p9@x7d2.invalid;transport=ws", Q: 1, Received: "ws:edge-a~8", Transport: "ws"})
	add(location.Binding{AOR: "tls@example.com", Contact: "sip:tls@198.51.100.30:5061;transport=tls", Q: 1, Received: "tls:edge-b~2", Transport: "tls"})
	s := subscriber.Subscriber{AOR: "carol@example.com", Enabled: true}
	if err := s.SetPassword("secret-1"); err != nil {
		t.Fatal(err)
	}
	if err := dir.Add(ctx, s); err != nil {
		t.Fatal(err)
	}
	l := &Location{Store: loc, Directory: dir, Now: func() time.Time { return now }}

	ts, known, err := l.Lookup(ctx, "nat@example.com")
	if err != nil || !known || len(ts) != 1 {
		t.Fatalf("nat: %v %v %v", ts, known, err)
	}
	if ts[0].Received != "udp:203.0.113.7:40123" || ts[0].URI != "sip:nat@10.0.0.5:5060" || len(ts[0].Path) != 1 {
		t.Errorf("behind NAT: %+v, want the received address and the Path", ts[0])
	}
	if ts, _, _ := l.Lookup(ctx, "open@example.com"); len(ts) != 1 || ts[0].Received != "" || ts[0].Q != 0.5 {
		t.Errorf("reachable contact: %+v, want no received address, q 0.5", ts)
	}
	if ts, _, _ := l.Lookup(ctx, "third@example.com"); len(ts) != 1 || ts[0].Received != "" {
		t.Errorf("third-party registration of a routable contact: %+v, want the contact", ts)
	}
	if ts, _, _ := l.Lookup(ctx, "cgn@example.com"); len(ts) != 1 || ts[0].Received != "udp:203.0.113.8:5060" {
		t.Errorf("contact in the CGNAT range: %+v, want the received address", ts)
	}
	if ts, _, _ := l.Lookup(ctx, "tcp@example.com"); len(ts) != 1 || ts[0].Received != "tcp:edge-a~7" {
		t.Errorf("TCP binding: %+v, want the connection", ts)
	}
	if ts, _, _ := l.Lookup(ctx, "ws@example.com"); len(ts) != 1 || ts[0].Received != "ws:edge-a~8" {
		t.Errorf("WebSocket binding: %+v, want the connection", ts)
	}
	if ts, _, _ := l.Lookup(ctx, "tls@example.com"); len(ts) != 1 || ts[0].Received != "tls:edge-b~2" {
		t.Errorf("TLS binding with a routable contact: %+v, want the connection all the same", ts)
	}
	if ts, known, err := l.Lookup(ctx, "carol@example.com"); err != nil || !known || len(ts) != 0 {
		t.Errorf("subscriber without bindings: %v known=%v %v; want known, none (480)", ts, known, err)
	}
	if _, known, err := l.Lookup(ctx, "nobody@example.com"); err != nil || known {
		t.Errorf("unknown user: known=%v %v; want unknown (404)", known, err)
	}
	l.NoNAT = true
	if ts, _, _ := l.Lookup(ctx, "nat@example.com"); ts[0].Received != "" {
		t.Errorf("NoNAT: %+v", ts[0])
	}
}
