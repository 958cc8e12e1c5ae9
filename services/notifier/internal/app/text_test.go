package app

import (
	"mime"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "Alice Liddell", 120, "Alice Liddell"},
		{"CRLF", "Eve\r\nBcc: x@y", 120, "Eve Bcc: x@y"},
		{"controls and runs of space", " a\x00\x1b[31m\t\tb \x7f\u0085c ", 120, "a [31m b c"},
		{"bidi", "\u202Egnp.exe", 120, "gnp.exe"},
		{"invalid UTF-8", "Ev\xe9", 120, "Ev\uFFFD"},
		{"cut", "abcdefghij", 5, "abcd…"},
		{"cut at a space", "abc defghij", 5, "abc…"},
		{"exactly max", "abcde", 5, "abcde"},
		{"empty", "\r\n", 5, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(tc.in, tc.max); got != tc.want {
				t.Errorf("Text(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestEncodeHeader(t *testing.T) {
	tests := []struct {
		in    string
		plain bool
	}{
		{"Missed call from Alice (was busy)", true},
		{"Missed call from =?utf-8?q?x?=", false},
		{"Missed call from Müller", false},
		{strings.Repeat("é", 200), false},
		{"", true},
	}
	dec := new(mime.WordDecoder)
	for _, tc := range tests {
		got := EncodeHeader(tc.in)
		if (got == tc.in) != tc.plain {
			t.Errorf("EncodeHeader(%q) = %q: plain %v, want %v", tc.in, got, got == tc.in, tc.plain)
		}
		for _, w := range strings.Fields(got) {
			if len(w) > 75 && !tc.plain {
				t.Errorf("encoded word of %d characters: %q", len(w), w)
			}
		}
		back, err := dec.DecodeHeader(got)
		if err != nil || back != tc.in && !tc.plain {
			t.Errorf("decode(%q) = %q, %v; want %q", got, back, err, tc.in)
		}
	}
}

func TestLogText(t *testing.T) {
	if got := LogText("a\nb\r\x1b\xff\\", 100); got != `a\nb\r\u001b\xff\\` {
		t.Errorf("LogText = %q", got)
	}
	if got := LogText("abcdef", 3); got != "abc..." {
		t.Errorf("LogText cut = %q", got)
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"Alice", "Eve\r\nBcc: x", "\xff\xfe", "\u202E", strings.Repeat("é", 300)} {
		f.Add(s, 20)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max%200 + 1
		if max < 1 {
			max = -max + 1
		}
		got := Text(s, max)
		if strings.ContainsAny(got, "\r\n\x00") || !utf8.ValidString(got) || utf8.RuneCountInString(got) > max {
			t.Fatalf("Text(%q, %d) = %q", s, max, got)
		}
		enc := EncodeHeader(got)
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7e {
				t.Fatalf("EncodeHeader(%q) = %q: not printable ASCII", got, enc)
			}
		}
		back, err := new(mime.WordDecoder).DecodeHeader(enc)
		if err != nil || back != got {
			t.Fatalf("EncodeHeader(%q) = %q decodes to %q, %v", got, enc, back, err)
		}
	})
}
