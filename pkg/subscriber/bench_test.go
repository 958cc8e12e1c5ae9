package subscriber_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
)

func BenchmarkParseAOR(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := subscriber.ParseAOR("sip:alice@Example.COM;transport=tcp"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet is the registrar's lookup per REGISTER.
func BenchmarkGet(b *testing.B) {
	url := testenv.RedisURL(b)
	engines := map[string]subscriber.Directory{
		"memory": subscriber.NewMemory(),
		"redis":  subscriber.NewRedis(rawClient(b, url), "bench"),
	}
	for name, d := range engines {
		b.Run(name, func(b *testing.B) {
			ctx := testenv.Context(b, time.Minute)
			for i := range 100 {
				s := subscriber.Subscriber{AOR: fmt.Sprintf("user%d@example.com", i), Enabled: true}
				if err := s.SetPassword("password"); err != nil {
					b.Fatal(err)
				}
				if err := d.Add(ctx, s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Get(ctx, "user42@example.com"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
