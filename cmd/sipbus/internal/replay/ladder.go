package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// colWidth is the width of one address column of the ladder.
const colWidth = 24

// Columns are the addresses of the call's messages in order of first
// appearance: one ladder column each.
func Columns(c *Call) []string {
	var cols []string
	seen := map[string]bool{}
	for _, it := range c.Items {
		if it.SIP == nil {
			continue
		}
		for _, a := range []string{it.From, it.To} {
			if !seen[a] {
				seen[a] = true
				cols = append(cols, a)
			}
		}
	}
	return cols
}

// Ladder writes the call as an sngrep-style ladder: a header with the
// Call-ID, one column per address, and per item a time column (clock
// time and the delta to the previous item) and an arrow with its label,
// or a call event line.
func Ladder(w io.Writer, c *Call) error {
	cols := Columns(c)
	idx := map[string]int{}
	for i, a := range cols {
		idx[a] = i
	}
	nSIP, nCall := 0, 0
	for _, it := range c.Items {
		if it.SIP != nil {
			nSIP++
		} else {
			nCall++
		}
	}
	bw := &errWriter{w: w}
	bw.printf("Call-ID %s  call key %s  %d SIP messages, %d call events\n", safe(c.CallID), c.CallKey, nSIP, nCall)
	const timeCol = 24
	head := []rune(strings.Repeat(" ", len(cols)*colWidth))
	for i, a := range cols {
		a = clip(safe(a), colWidth-2)
		put(head, i*colWidth+colWidth/2-len([]rune(a))/2, a)
	}
	bw.printf("%s%s\n", strings.Repeat(" ", timeCol), strings.TrimRight(string(head), " "))
	var first, prev time.Time
	for i, it := range c.Items {
		if i == 0 {
			first, prev = it.At, it.At
		}
		stamp := fmt.Sprintf("%s %+8.3fs", it.At.UTC().Format("15:04:05.000"), it.At.Sub(prev).Seconds())
		prev = it.At
		if it.Call != nil {
			bw.printf("%-*s%s\n", timeCol, stamp, callLine(it, len(cols)))
			continue
		}
		from, to := idx[it.From], idx[it.To]
		lbl, arrow := arrowLines(len(cols), from, to, it.Label, it.Transport)
		bw.printf("%-*s%s\n%-*s%s\n", timeCol, "", lbl, timeCol, stamp, arrow)
	}
	if len(c.Items) > 0 {
		bw.printf("%d items in %.3fs\n", len(c.Items), prev.Sub(first).Seconds())
	}
	return bw.err
}

// arrowLines is the label line and the arrow line of a message between
// columns from and to of n.
func arrowLines(n, from, to int, label, transport string) (string, string) {
	line := []rune(strings.Repeat(" ", n*colWidth))
	lbl := []rune(strings.Repeat(" ", n*colWidth))
	for i := 0; i < n; i++ {
		line[i*colWidth+colWidth/2] = '|'
		lbl[i*colWidth+colWidth/2] = '|'
	}
	if transport != "" && transport != "udp" {
		label += " (" + transport + ")"
	}
	a, b := from*colWidth+colWidth/2, to*colWidth+colWidth/2
	switch {
	case a < b:
		for x := a + 1; x < b; x++ {
			line[x] = '-'
		}
		line[b-1] = '>'
	case a > b:
		for x := b + 1; x < a; x++ {
			line[x] = '-'
		}
		line[b+1] = '<'
	default: // to itself
		put(line, a+1, "-.")
		b = a + colWidth
	}
	lo, hi := min(a, b), max(a, b)
	room := hi - lo - 1
	label = clip(label, max(room, 8))
	put(lbl, lo+1+max(0, (room-len([]rune(label)))/2), label)
	return strings.TrimRight(string(lbl), " "), strings.TrimRight(string(line), " ")
}

// callLine is a call event across the ladder: "== call.ringing 180 ==".
func callLine(it Item, n int) string {
	name := strings.TrimPrefix(strings.TrimSuffix(it.Call.Type, ".v1"), "sipbus.")
	var d map[string]any
	_ = json.Unmarshal(it.Call.Data, &d)
	var parts []string
	for _, k := range []string{"status", "reason", "hangup_by", "contact"} {
		if v, ok := d[k]; ok && v != "" {
			parts = append(parts, k+"="+safe(fmt.Sprint(v)))
		}
	}
	s := "== " + name
	if len(parts) > 0 {
		s += " " + strings.Join(parts, " ")
	}
	s += " "
	width := max(n*colWidth, len([]rune(s))+2)
	return s + strings.Repeat("=", width-len([]rune(s)))
}

// put writes s into line at x (clipped to the line).
func put(line []rune, x int, s string) {
	for _, r := range s {
		if x >= 0 && x < len(line) {
			line[x] = r
		}
		x++
	}
}

// safe makes network text printable: a string with anything but
// printable ASCII is quoted (strconv.Quote), so it can neither move the
// cursor nor forge a line.
func safe(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return strconv.Quote(s)
		}
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 3 {
		return string(r[:n])
	}
	return string(r[:n-3]) + "..."
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}
