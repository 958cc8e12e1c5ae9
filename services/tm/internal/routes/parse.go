package routes

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a route file. Error() reads "file:line: message".
// Parse returns them joined (errors.Join), in line order; errors.As finds
// the first.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// maxErrors bounds the problems one Parse reports.
const maxErrors = 10

// Load reads and parses a route file. Every error names the file.
func Load(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	return Parse(data, path)
}

// Parse parses a route table strictly (see the package doc for the format).
// file names the source in errors and in Table.File. Every problem found is
// reported, up to ten, each as an *Error.
func Parse(data []byte, file string) (*Table, error) {
	if file == "" {
		file = "<routes>"
	}
	root, err := decode(data, file)
	if err != nil {
		return nil, err
	}
	p := &parser{file: file}
	p.aliases(root)
	if len(p.errs) > 0 {
		return nil, p.err()
	}
	t := p.table(root)
	if err := p.err(); err != nil {
		return nil, err
	}
	t.File = file
	return t, nil
}

// decode parses the single YAML document of data into its root node.
func decode(data []byte, file string) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 is fuzzed, but a route file must never crash tm
			root, err = nil, &Error{File: file, Line: 1, Msg: fmt.Sprintf("yaml: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Line: 1, Msg: "empty file: want a routes: list"}
		}
		return nil, syntaxError(data, file, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Error{File: file, Line: lineOf(&next), Msg: "a second YAML document: a route file holds one"}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(data, file, err)
	}
	if len(doc.Content) != 1 {
		return nil, &Error{File: file, Line: 1, Msg: "empty file: want a routes: list"}
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line \d+: `)

// syntaxError turns a yaml.v3 error into an *Error. The line yaml.v3 puts
// in some messages is unreliable (for parser errors it is the line before
// the context, and on the first line it is left out), so errorLine finds
// it instead and the message keeps only yaml.v3's text.
func syntaxError(data []byte, file string, err error) error {
	msg := err.Error()
	return &Error{File: file, Line: errorLine(data, msg), Msg: yamlLine.ReplaceAllLiteralString(msg, "yaml: ")}
}

// errorLine finds the line of a syntax error: the first line n such that
// the file cut after line n fails with the same message. Once the faulty
// line is in, every longer cut fails the same way, so a binary search does.
func errorLine(data []byte, msg string) int {
	var ends []int // ends[i]: offset after line i+1
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			off = len(data)
		} else {
			off += i + 1
		}
		ends = append(ends, off)
	}
	fails := func(i int) bool {
		err := decodeAll(data[:ends[i]])
		return err != nil && err.Error() == msg
	}
	if len(ends) == 0 || !fails(len(ends)-1) {
		return 1
	}
	return sort.Search(len(ends), fails) + 1
}

// decodeAll decodes every document of data and returns the first error.
func decodeAll(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// parser walks the YAML tree and collects every problem.
type parser struct {
	file string
	errs []*Error
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: lineOf(n), Msg: fmt.Sprintf(format, args...)})
}

// err joins the problems in line order, at most maxErrors of them.
func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	var errs []error
	for i, e := range p.errs {
		if i == maxErrors {
			errs = append(errs, &Error{File: p.file, Line: e.Line, Msg: fmt.Sprintf("too many problems: %d more not shown", len(p.errs)-maxErrors)})
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func lineOf(n *yaml.Node) int {
	for n != nil && n.Line == 0 && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil || n.Line < 1 {
		return 1
	}
	return n.Line
}

// aliases reports every alias: values are written out, never referenced
// (which also keeps alias expansion bombs out).
func (p *parser) aliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.errorf(n, "alias *%s: aliases are not supported, write the value out", n.Value)
		return
	}
	for _, c := range n.Content {
		p.aliases(c)
	}
}

// entry is one key: value of a mapping.
type entry struct {
	key  string
	k, v *yaml.Node
}

// fields returns the entries of mapping n whose keys are known, reporting a
// node that is not a mapping, a repeated key and an unknown key. where
// names the mapping in messages.
func (p *parser) fields(n *yaml.Node, where string, known []string) ([]entry, bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping, got %s", where, describe(n))
		return nil, false
	}
	var out []entry
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: a key must be a plain name, got %s", where, describe(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errorf(k, "%s: key %q repeated (first at line %d)", where, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			p.errorf(k, "%s: unknown key %q (want %s)", where, k.Value, strings.Join(known, ", "))
			continue
		}
		out = append(out, entry{key: k.Value, k: k, v: v})
	}
	return out, true
}

// str returns the text of a scalar value: a string or a number or a
// boolean as written, never empty.
func (p *parser) str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s: want a string, got %s", key, describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool":
	default:
		p.errorf(n, "%s: want a string, got %s", key, describe(n))
		return "", false
	}
	if n.Value == "" {
		p.errorf(n, "%s: empty", key)
		return "", false
	}
	return n.Value, true
}

// list returns a string or a non-empty list of strings, with their nodes.
func (p *parser) list(n *yaml.Node, key string) ([]string, []*yaml.Node) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			p.errorf(n, "%s: empty list", key)
			return nil, nil
		}
		items = n.Content
	}
	var vals []string
	var nodes []*yaml.Node
	for _, it := range items {
		if s, ok := p.str(it, key); ok {
			vals = append(vals, s)
			nodes = append(nodes, it)
		}
	}
	return vals, nodes
}

// boolean returns a YAML boolean (true or false; not yes/no).
func (p *parser) boolean(n *yaml.Node, key string) (*bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n, "%s: want true or false, got %s", key, describe(n))
		return nil, false
	}
	return &b, true
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names a node's value for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}
