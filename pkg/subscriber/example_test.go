package subscriber_test

import (
	"context"
	"fmt"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// A provisioning tool adds a subscriber; the registrar later looks up the
// HA1 for the algorithm of the client's credentials.
func Example() {
	ctx := context.Background()
	dir := subscriber.NewMemory() // subscriber.NewRedis(client, "sipbus") with replicas

	s := subscriber.Subscriber{AOR: "sip:Alice@Example.COM", Name: "Alice", Email: "alice@example.com", Enabled: true}
	if err := s.SetPassword("correct horse"); err != nil {
		panic(err)
	}
	if err := dir.Add(ctx, s); err != nil {
		panic(err)
	}

	got, err := dir.Get(ctx, "Alice@example.com")
	fmt.Println(got.AOR, got.Enabled, err)
	fmt.Println(got.HA1(digest.SHA256) == digest.HA1(digest.SHA256, "Alice", "example.com", "correct horse"))

	err = dir.Add(ctx, subscriber.Subscriber{AOR: "bob@example.com", Email: "bob@example.com\r\nBcc: everyone@example.com"})
	fmt.Println(err)
	// Output:
	// Alice@example.com true <nil>
	// true
	// subscriber: invalid: bob@example.com: Email contains CR or LF
}
