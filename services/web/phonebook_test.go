package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/services/web/internal/app"
)

// TestPhonebook: add, search, edit, delete through the forms; bad input is
// refused naming the field; numbers are dialled in the user's domain.
func TestPhonebook(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "alice@example.com", "alice-secret", false)
	b := e.browser(t)
	_, csrf := b.mustSignIn("alice@example.com", "alice-secret")
	add := func(name, target string, want int) {
		t.Helper()
		resp, body := b.do("POST", "/u/alice@example.com/phonebook", url.Values{"csrf": {csrf}, "name": {name}, "target": {target}})
		if resp.StatusCode != want {
			t.Fatalf("add %q %q = %d, want %d\n%s", name, target, resp.StatusCode, want, body)
		}
	}
	add("Bob Builder", "sip:bob@example.com", http.StatusSeeOther)
	add("Carol", "sips:carol@example.net", http.StatusSeeOther)
	add("Pizza", "+3312345678", http.StatusSeeOther)

	for _, tc := range []struct{ name, target, field string }{
		{"", "sip:x@example.com", "name"},
		{"X", "http://example.com", "target"},
		{"X", "sip:x@example.com\r\nX-Evil: 1", "target"},
	} {
		resp, body := b.do("POST", "/u/alice@example.com/phonebook", url.Values{"csrf": {csrf}, "name": {tc.name}, "target": {tc.target}},
			"Accept", "application/json")
		var eb httpfront.ErrorBody
		_ = json.Unmarshal([]byte(body), &eb)
		if resp.StatusCode != http.StatusBadRequest || eb.Field != tc.field {
			t.Errorf("add %q %q = %d %s, want 400 naming %s", tc.name, tc.target, resp.StatusCode, body, tc.field)
		}
	}

	search := func(q string) []app.Entry {
		t.Helper()
		_, body := b.do("GET", "/u/alice@example.com/phonebook.json?q="+url.QueryEscape(q), nil)
		var es []app.Entry
		if err := json.Unmarshal([]byte(body), &es); err != nil {
			t.Fatalf("phonebook.json: %v: %s", err, body)
		}
		return es
	}
	if es := search("BO"); len(es) != 1 || es[0].Name != "Bob Builder" {
		t.Fatalf("search BO = %+v", es)
	}
	if es := search("example"); len(es) != 2 || es[0].Name != "Bob Builder" || es[1].Name != "Carol" {
		t.Fatalf("search example = %+v, want Bob and Carol by name", es)
	}
	_, page := b.do("GET", "/u/alice@example.com/?q=pizza", nil)
	if !strings.Contains(page, `data-to="sip:&#43;3312345678@example.com"`) && !strings.Contains(page, `data-to="sip:+3312345678@example.com"`) {
		t.Fatalf("a number is not dialled in alice's domain:\n%s", page)
	}
	if strings.Contains(page, "Bob Builder") {
		t.Fatal("the page's search shows entries that do not match")
	}

	if _, page := b.do("GET", "/u/alice@example.com/?msg=Call+0800+now", nil); strings.Contains(page, "0800") {
		t.Fatal("the page shows text from the URL")
	}
	if _, page := e.browser(t).do("GET", "/signin?msg=Call+0800+now", nil); strings.Contains(page, "0800") {
		t.Fatal("the sign-in page shows text from the URL")
	}
	for _, tc := range []struct{ field, value string }{{"email", "a@b.example\r\nBcc: x@y"}, {"email", "Alice <a@b.example>"}, {"tz", "Mars/Olympus"}} {
		resp, body := b.do("POST", "/u/alice@example.com/account", url.Values{"csrf": {csrf}, tc.field: {tc.value}}, "Accept", "application/json")
		var eb httpfront.ErrorBody
		_ = json.Unmarshal([]byte(body), &eb)
		if resp.StatusCode != http.StatusBadRequest || eb.Field != tc.field {
			t.Errorf("account %s=%q: %d %s, want 400 naming %s", tc.field, tc.value, resp.StatusCode, body, tc.field)
		}
	}
	bob := search("bob")[0]
	resp, _ := b.do("POST", "/u/alice@example.com/phonebook/"+bob.ID, url.Values{"csrf": {csrf}, "name": {"Robert"}, "target": {"sip:robert@example.com"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	if es := search("robert"); len(es) != 1 || es[0].ID != bob.ID {
		t.Fatalf("after edit: %+v", es)
	}
	resp, _ = b.do("POST", "/u/alice@example.com/phonebook/"+bob.ID+"/delete", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/u/alice@example.com/phonebook/"+bob.ID+"/delete", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("delete again: %d, want 404", resp.StatusCode)
	}
	if es, _ := e.st.Phonebook.Entries(context.Background(), "alice@example.com"); len(es) != 2 {
		t.Fatalf("left: %+v", es)
	}
}
