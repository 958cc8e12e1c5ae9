package sipmsg

import (
	"slices"
	"strings"
	"testing"
)

// SplitList is the list splitter of header values that sipmsg's views use
// (nextElem) and of the registrar's Contact and Path rows.
func TestSplitList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"*", []string{"*"}},
		{"<sip:a>, <sip:b>", []string{"<sip:a>", "<sip:b>"}},
		{`"Doe, John" <sip:j@h>;q=0.5 ,sip:k@h`, []string{`"Doe, John" <sip:j@h>;q=0.5`, "sip:k@h"}},
		{`"a\", b" <sip:x,y@h>`, []string{`"a\", b" <sip:x,y@h>`}},
		{"sip:[2001:db8::1,2], ,", []string{"sip:[2001:db8::1,2]"}},
	} {
		if got := SplitList(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzSplitList checks the list splitter (Contact, Path, every list header): no panic, every
// element trimmed, non-empty and a piece of the input, in order.
func FuzzSplitList(f *testing.F) {
	for _, s := range []string{"<sip:a>, <sip:b>", `"a, \"b" <sip:c>`, "sip:[::1,2],x", ",,", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rest := s
		for _, p := range SplitList(s) {
			if p == "" || p != trimLWS(p) {
				t.Fatalf("SplitList(%q) element %q", s, p)
			}
			i := strings.Index(rest, p)
			if i < 0 {
				t.Fatalf("SplitList(%q): element %q is not in the input after the previous one", s, p)
			}
			rest = rest[i+len(p):]
		}
	})
}
