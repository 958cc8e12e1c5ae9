package websession_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/websession"
)

// A handler of the process (here an API endpoint) accepts the web page's
// session with Check.
func ExampleManager_Check() {
	dir := subscriber.NewMemory()
	alice := subscriber.Subscriber{AOR: "alice@example.com", Enabled: true}
	_ = alice.SetPassword("alice-secret")
	_ = dir.Add(context.Background(), alice)
	m, _ := websession.New(websession.Config{Key: []byte("a key of at least thirty-two bytes!")}, dir, websession.NewMemory(), nil)

	// Sign-in (after checking the password) sets the cookie.
	w := httptest.NewRecorder()
	_, _ = m.Issue(context.Background(), w, httptest.NewRequest("POST", "/signin", nil), "alice@example.com")

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aor, admin, ok := m.Check(r)
		fmt.Println(aor, admin, ok)
	})
	r := httptest.NewRequest("GET", "/v1/calls/x", nil)
	r.AddCookie(w.Result().Cookies()[0])
	api.ServeHTTP(httptest.NewRecorder(), r)
	api.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/calls/x", nil))
	// Output:
	// alice@example.com false true
	//  false false
}
