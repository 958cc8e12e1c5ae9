package app

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on text that comes from the network (display names, URIs) once
// it is shown in a mail.
const (
	MaxNameRunes    = 120 // a display name in a subject or a body
	MaxURIRunes     = 256 // a URI shown as text
	MaxSubjectRunes = 160 // a whole subject
)

// Text makes s fit to show as one line of text: invalid UTF-8 becomes
// U+FFFD, control characters (C0, DEL, C1: CR and LF included) and the
// invisible bidirectional controls become spaces, runs of spaces become
// one, the ends are trimmed, and more than max runes are cut with "…".
// It never adds a line: whatever the input, the result has no CR or LF.
func Text(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(min(len(s), 4*max+4))
	n, space := 0, false
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) || unicode.IsSpace(r) {
			space = n > 0
			continue
		}
		if space {
			if n+2 > max { // the space and this rune do not both fit
				return cut(b.String(), max)
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		if n == max {
			return cut(b.String(), max)
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// cut ends s, which has at most max runes and is to be continued, with
// "…" within max runes.
func cut(s string, max int) string {
	if max <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) > max-1 {
		r = r[:max-1]
	}
	return strings.TrimRight(string(r), " ") + "…"
}

// isBidiControl reports the Unicode bidirectional formatting characters
// (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), which can make
// a name display as something else ("Trojan Source").
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// EncodeHeader renders text (already one line: see Text) as the value of
// an unstructured header field (RFC 5322 §2.2.1): printable ASCII without
// "=?" stays as it is; anything else is RFC 2047 encoded words ("B",
// UTF-8), each at most 75 characters, separated by spaces so the writer
// can fold between them. A display name that holds "=?utf-8?q?...?="
// therefore reaches the reader as that text, not decoded.
func EncodeHeader(text string) string {
	if plainHeader(text) {
		return text
	}
	const prefix, suffix = "=?UTF-8?B?", "?="
	// 75 - len("=?UTF-8?B?") - len("?=") = 63 base64 characters: 45
	// bytes of input (a multiple of 3), cut at a rune boundary.
	const chunk = 45
	var b strings.Builder
	for len(text) > 0 {
		n := min(chunk, len(text))
		for n > 0 && n < len(text) && !utf8.RuneStart(text[n]) {
			n--
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(prefix)
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(text[:n])))
		b.WriteString(suffix)
		text = text[n:]
	}
	return b.String()
}

func plainHeader(s string) bool {
	if strings.Contains(s, "=?") || len(s) > 900 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// LogText makes s fit for a log line field: control characters escaped
// Go-style (\n, \x1b), invalid UTF-8 as \xNN, at most max bytes of input
// (then "..."). slog quotes values too; this keeps a program's output or
// an SMTP reply from spanning lines in any handler.
func LogText(s string, max int) string {
	cut := false
	if len(s) > max {
		s, cut = s[:max], true
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[s[i]>>4])
			b.WriteByte("0123456789abcdef"[s[i]&15])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\\':
			b.WriteString(`\\`)
		case unicode.IsControl(r) || isBidiControl(r):
			b.WriteString(`\u`)
			const hexdig = "0123456789abcdef"
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hexdig[(r>>uint(shift))&15])
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}
