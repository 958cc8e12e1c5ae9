package digest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
)

// BenchmarkVerifySHA256 is the registrar's hot path without replay
// protection: nonce MAC, HA2 and response, constant-time compare.
func BenchmarkVerifySHA256(b *testing.B) {
	a, _ := newAuth(b, nil)
	cr := parse(b, newClient(testUser, testPass).authorize(challenge(b, a, digest.SHA256), testMethod, testURI))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := a.Verify(ctx, testMethod, testURI, cr, ha1SHA256); res != digest.OK {
			b.Fatal(res)
		}
	}
}

// BenchmarkVerifySHA256UnknownUser shows unknown users cost what known
// ones do.
func BenchmarkVerifySHA256UnknownUser(b *testing.B) {
	a, _ := newAuth(b, nil)
	cr := parse(b, newClient(testUser, testPass).authorize(challenge(b, a, digest.SHA256), testMethod, testURI))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := a.Verify(ctx, testMethod, testURI, cr, ""); res != digest.UnknownUser {
			b.Fatal(res)
		}
	}
}

// BenchmarkVerifySHA256MemoryCounter adds the memory nonce counter: one
// nonce answered with nc 1, 2, 3, ... (precomputed by the client outside
// the timer), a new nonce every 4096 requests.
func BenchmarkVerifySHA256MemoryCounter(b *testing.B) {
	a, _ := newAuth(b, func(o *digest.Options) { o.Counter = digest.NewMemoryCounter(nil) })
	ctx := context.Background()
	crs := make([]digest.Credentials, 4096)
	answer := func() {
		c := newClient(testUser, testPass)
		ch := challenge(b, a, digest.SHA256)
		for j := range crs {
			crs[j] = parse(b, c.authorize(ch, testMethod, testURI))
		}
	}
	answer()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(crs) {
			b.StopTimer()
			answer()
			i = 0
			b.StartTimer()
		}
		if res, _ := a.Verify(ctx, testMethod, testURI, crs[i], ha1SHA256); res != digest.OK {
			b.Fatal(res)
		}
		i++
	}
}

func BenchmarkParseCredentials(b *testing.B) {
	a, _ := newAuth(b, nil)
	v := newClient(testUser, testPass).authorize(challenge(b, a, digest.SHA256), testMethod, testURI)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := digest.ParseCredentials(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChallenges(b *testing.B) {
	a, _ := newAuth(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		for _, ch := range a.Challenges(false) {
			_ = ch.String()
		}
	}
}

func BenchmarkMemoryCounterAdvance(b *testing.B) {
	c := digest.NewMemoryCounter(nil)
	ctx := context.Background()
	nonces := make([]string, 1024)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("nonce-%d", i)
	}
	b.ReportAllocs()
	var nc uint32
	for b.Loop() {
		nc++
		if _, err := c.Advance(ctx, nonces[nc%1024], nc, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
