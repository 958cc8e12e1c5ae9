package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/services/web/internal/app"
)

// BenchmarkPage1000 is the page of a user with 1,000 phonebook entries (and
// a full call history) served over loopback from a real Redis; the issue
// wants it under 200 ms (see ns/op).
func BenchmarkPage1000(b *testing.B) {
	e := newEnv(b, false)
	e.addUser(b, "alice@example.com", "alice-secret", false)
	ctx := context.Background()
	for i := range 1000 {
		if _, err := e.st.Phonebook.Put(ctx, "alice@example.com", app.Entry{Name: fmt.Sprintf("Contact %04d", i), Target: fmt.Sprintf("sip:user%04d@example.com", i)}, 2000); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		l := app.Line{UserURI: "sip:alice@example.com", Call: app.Call{ID: fmt.Sprintf("k%d:in", i), Dir: app.In, Missed: true, Reason: "busy"}}
		if n, err := e.st.History.Record(ctx, []app.Line{l}, 100, 3600e9); n != 1 || err != nil {
			b.Fatalf("Record = %d, %v", n, err)
		}
	}
	br := e.browser(b)
	br.mustSignIn("alice@example.com", "alice-secret")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, body := br.do("GET", "/u/alice@example.com/", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Contact 0999") {
			b.Fatalf("page: %d", resp.StatusCode)
		}
	}
}
