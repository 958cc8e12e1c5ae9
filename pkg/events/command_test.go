package events_test

import (
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/events"
)

func TestDecodeCommand(t *testing.T) {
	type req struct {
		AOR   string `json:"aor"`
		Limit int    `json:"limit"`
		Tags  []string
	}
	cases := []struct {
		name, in, field, msg string
	}{
		{"ok", `{"aor":"a@b","limit":3}`, "", ""},
		{"empty is {}", ``, "", ""},
		{"unknown field", `{"aor":"a@b","zz":1}`, "zz", "unknown field of x.v1"},
		{"wrong type", `{"limit":"three"}`, "limit", "want a JSON number, got string"},
		{"wrong type nested", `{"Tags":[1]}`, "Tags", "want a JSON string, got number"},
		{"not JSON", `{aor`, "", "not a x.v1 JSON object"},
		{"not an object", `[1]`, "", "not a x.v1 JSON object"},
		{"trailing", `{} {}`, "", "trailing data"},
		{"too big", `{"aor":"` + strings.Repeat("a", events.MaxCommandBytes) + `"}`, "", "at most"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r req
			fe := events.DecodeCommand("x.v1", []byte(c.in), &r)
			if c.msg == "" {
				if fe != nil {
					t.Fatalf("error %v", fe)
				}
				return
			}
			if fe == nil || fe.Field != c.field || !strings.Contains(fe.Msg, c.msg) {
				t.Fatalf("got %#v, want field %q msg ~%q", fe, c.field, c.msg)
			}
		})
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{`{"aor":"a"}`, `{"zz":1}`, `{"limit":"x"}`, `[`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r struct {
			AOR   string `json:"aor"`
			Limit int    `json:"limit"`
		}
		if fe := events.DecodeCommand("x.v1", b, &r); fe != nil && fe.Error() == "" {
			t.Fatal("an error without a message")
		}
	})
}
