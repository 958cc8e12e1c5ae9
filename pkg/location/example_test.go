package location_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
)

func ExampleParseAOR() {
	aor, _ := location.ParseAOR("sips:Alice@Example.COM:5061;transport=tls")
	fmt.Println(aor)
	// Output: Alice@example.com
}

func ExampleSameContact() {
	fmt.Println(location.SameContact("sip:alice@HOST:5060;transport=UDP;ob", "sip:alice@host:5060;transport=udp"))
	fmt.Println(location.SameContact("sip:alice@host", "sip:alice@host:5060"))
	// Output:
	// true
	// false
}

func ExampleStore() {
	var s location.Store = location.NewMemory()
	ctx := context.Background()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	_, changes, err := s.Apply(ctx, location.Update{
		AOR: "alice@example.com", CallID: "a84b4c76e66710", CSeq: 314159, Now: now,
		Contacts: []location.Binding{
			{Contact: "sip:alice@192.0.2.4", Q: 1, Expires: now.Add(time.Hour)},
			{Contact: "sip:alice@198.51.100.7", Q: 0.5, Expires: now.Add(time.Hour)},
		},
		MaxContacts: 10,
	})
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Println(c.Kind, c.Binding.Contact)
	}
	bs, _ := s.Lookup(ctx, "alice@example.com", now.Add(time.Minute))
	for _, b := range bs {
		fmt.Println(b.Contact, b.Q, b.Expires.Sub(now))
	}
	// Output:
	// added sip:alice@192.0.2.4
	// added sip:alice@198.51.100.7
	// sip:alice@192.0.2.4 1 1h0m0s
	// sip:alice@198.51.100.7 0.5 1h0m0s
}
