package schemadoc

import (
	"encoding/base64"
	"regexp"
	"sort"
	"strings"
)

// maxDepth bounds recursion through $ref (a schema may refer to itself).
const maxDepth = 12

// synth makes an example value from a schema: the schema's own
// "examples"[0] where it has one, else const, enum[0], default, or a value
// of the type (hints.go, within the bounds and pattern). Objects get their
// required properties, and each optional one that keeps the whole example
// valid (exampleOf tries them one by one), so mutually exclusive fields
// (oneOf, if/then) do not break it.
type synth struct {
	root    map[string]any
	include map[string]bool // optional properties (by path) in the example
	cand    []string        // optional properties seen but not included
}

// exampleOf is the example of node (a file's top level or a $defs entry);
// valid checks a whole example. own reports the schema's own example.
func exampleOf(node any, root map[string]any, valid func(any) bool) (v any, own bool) {
	s := &synth{root: root, include: map[string]bool{}}
	v, own = s.value(node, "", "", 0)
	if own {
		return v, true
	}
	tried := map[string]bool{}
	for {
		cands := s.cand
		sort.Strings(cands)
		progress := false
		for _, p := range cands {
			if tried[p] {
				continue
			}
			tried[p] = true
			s.include[p] = true
			if w, _ := s.value(node, "", "", 0); valid(w) {
				progress = true
			} else {
				delete(s.include, p)
			}
		}
		s.cand = nil
		v, _ = s.value(node, "", "", 0)
		if !progress {
			return v, false
		}
	}
}

func (s *synth) value(node any, name, path string, depth int) (v any, own bool) {
	n, _ := node.(map[string]any)
	if n == nil || depth > maxDepth {
		return nil, false
	}
	if ex, _ := n["examples"].([]any); len(ex) > 0 {
		return ex[0], true
	}
	n = s.flatten(n, depth)
	if c, ok := n["const"]; ok {
		return c, false
	}
	if e, _ := n["enum"].([]any); len(e) > 0 {
		return e[0], false
	}
	if d, ok := n["default"]; ok {
		return d, false
	}
	if alts := firstOf(n); alts != nil && typeOf(n) == "" {
		return s.value(alts, name, path, depth+1)
	}
	switch typeOf(n) {
	case "object":
		props, _ := n["properties"].(map[string]any)
		req := map[string]bool{}
		for _, r := range asList(n["required"]) {
			req[r] = true
		}
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		obj := make(map[string]any, len(props))
		for _, k := range keys {
			p := path + "/" + k
			if !req[k] && !s.include[p] {
				s.cand = append(s.cand, p)
				continue
			}
			obj[k], _ = s.value(props[k], k, p, depth+1)
		}
		return obj, false
	case "array":
		item, _ := s.value(n["items"], strings.TrimSuffix(name, "s"), path+"/0", depth+1)
		if item == nil {
			return []any{}, false
		}
		return []any{item}, false
	case "integer", "number":
		return num(n, name), false
	case "boolean":
		return boolHints[name], false
	case "string":
		return str(n, name, path), false
	}
	return nil, false
}

// flatten resolves a local $ref and merges allOf into one schema node.
func (s *synth) flatten(n map[string]any, depth int) map[string]any {
	out := map[string]any{}
	var add func(m map[string]any, d int)
	add = func(m map[string]any, d int) {
		if d > maxDepth {
			return
		}
		if ref, _ := m["$ref"].(string); strings.HasPrefix(ref, "#/") {
			if t, _ := resolve(s.root, ref).(map[string]any); t != nil {
				add(t, d+1)
			}
		}
		for _, a := range asMaps(m["allOf"]) {
			add(a, d+1)
		}
		for k, v := range m {
			switch k {
			case "$ref", "allOf":
			case "properties":
				ps, _ := out[k].(map[string]any)
				if ps == nil {
					ps = map[string]any{}
				}
				for pk, pv := range v.(map[string]any) {
					if old, ok := ps[pk].(map[string]any); ok {
						if nv, ok := pv.(map[string]any); ok {
							pv = mergeMaps(old, nv)
						}
					}
					ps[pk] = pv
				}
				out[k] = ps
			case "required":
				out[k] = append(asAny(out[k]), asAny(v)...)
			default:
				out[k] = v
			}
		}
	}
	add(n, depth)
	return out
}

func mergeMaps(a, b map[string]any) map[string]any {
	m := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

func firstOf(n map[string]any) any {
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, _ := n[k].([]any); len(alts) > 0 {
			return alts[0]
		}
	}
	return nil
}

func asAny(v any) []any { l, _ := v.([]any); return l }

func asList(v any) []string {
	var out []string
	for _, x := range asAny(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asMaps(v any) []map[string]any {
	var out []map[string]any
	for _, x := range asAny(v) {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func typeOf(n map[string]any) string {
	switch t := n["type"].(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if s, _ := x.(string); s != "" && s != "null" {
				return s
			}
		}
	}
	if n["properties"] != nil {
		return "object"
	}
	return ""
}

func resolve(root map[string]any, ref string) any {
	var cur any = root
	for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := cur.(map[string]any)
		if m == nil {
			return nil
		}
		cur = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(p)]
	}
	return cur
}

// num is the hint for name if within the bounds, else the first of
// intPool within them, else the minimum.
func num(n map[string]any, name string) any {
	lo, hasLo := n["minimum"].(float64)
	hi, hasHi := n["maximum"].(float64)
	ok := func(v float64) bool { return (!hasLo || v >= lo) && (!hasHi || v <= hi) }
	if h, found := intHints[name]; found && ok(h) {
		return h
	}
	for _, v := range intPool {
		if ok(v) {
			return v
		}
	}
	return lo
}

// str is an example string: base64 of a SIP message for base64 content;
// else the first that fits the pattern and length bounds of: a value for
// the hint for parent/name, the hint for name, a value for its format,
// and (with a pattern) every hint; else the name itself.
func str(n map[string]any, name, path string) string {
	if enc, _ := n["contentEncoding"].(string); enc == "base64" {
		return base64.StdEncoding.EncodeToString([]byte(sipInvite))
	}
	var re *regexp.Regexp
	if p, _ := n["pattern"].(string); p != "" {
		re, _ = regexp.Compile(p) // ECMA regexps mostly compile in Go; if not, unchecked
	}
	lo, _ := n["minLength"].(float64)
	hi, hasHi := n["maxLength"].(float64)
	fits := func(v string) bool {
		return (re == nil || re.MatchString(v)) && len(v) >= int(lo) && (!hasHi || len(v) <= int(hi))
	}
	var cands []string
	if i := strings.LastIndex(path, "/"); i > 0 {
		parent := path[strings.LastIndex(path[:i], "/")+1 : i]
		if h, ok := strHints[parent+"/"+name]; ok {
			cands = append(cands, h)
		}
	}
	if h, ok := strHints[name]; ok {
		cands = append(cands, h)
	}
	if f, _ := n["format"].(string); formats[f] != "" {
		cands = append(cands, formats[f])
	}
	if re != nil {
		cands = append(cands, strPool...)
	}
	for _, c := range cands {
		if fits(c) {
			return c
		}
	}
	v := name
	if v == "" {
		v = "text"
	}
	for len(v) < int(lo) {
		v += "x"
	}
	if hasHi && len(v) > int(hi) {
		v = v[:int(hi)]
	}
	return v
}
