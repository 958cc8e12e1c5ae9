package routes

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"gopkg.in/yaml.v3"
)

// Keys of the route file.
var (
	topKeys    = []string{"routes"}
	actionKeys = []string{string(Location), string(Relay), string(Reply), string(App), string(Registrar), string(OptionsReply)}
	ruleKeys   = append([]string{"name", "match", "on_failure"}, actionKeys...)
	matchKeys  = []string{"method", "user", "user_regex", "domain", "domain_regex", "source", "header", "local_domain", "to_self"}
	replyKeys  = []string{"code", "reason"}
	appNameRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// Limits of names and reason phrases, in characters.
const (
	maxNameLen   = 64
	maxReasonLen = 128
)

// table walks the root mapping.
func (p *parser) table(root *yaml.Node) *Table {
	es, ok := p.fields(root, "top level", topKeys)
	if !ok {
		return nil
	}
	if len(es) == 0 {
		p.errorf(root, "missing routes: list")
		return nil
	}
	list := es[0].v
	if isNull(list) || (list.Kind == yaml.SequenceNode && len(list.Content) == 0) {
		p.errorf(es[0].k, "routes: empty list: a table needs at least one rule")
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "routes: want a list of rules, got %s", describe(list))
		return nil
	}
	t := &Table{Rules: make([]Rule, 0, len(list.Content))}
	names := make(map[string]int, len(list.Content))
	catchAll := 0 // line of the first rule without conditions
	for i, n := range list.Content {
		r, ok := p.rule(i+1, n)
		if !ok {
			continue
		}
		if line, dup := names[r.Name]; dup {
			p.errorf(n, "rule name %q already used at line %d", r.Name, line)
		}
		names[r.Name] = r.Line
		if catchAll > 0 {
			p.errorf(n, "%s is unreachable: the rule at line %d matches every request", label(i+1, r.Name), catchAll)
			catchAll = -1 // report once
		} else if catchAll == 0 && r.Match.empty() {
			catchAll = r.Line
		}
		t.Rules = append(t.Rules, r)
	}
	return t
}

// label names rule idx in messages.
func label(idx int, name string) string {
	if name == fmt.Sprintf("rule %d", idx) {
		return name
	}
	return fmt.Sprintf("rule %d (%q)", idx, name)
}

// rule walks one rule; ok is false when it has a problem.
func (p *parser) rule(idx int, n *yaml.Node) (r Rule, ok bool) {
	before := len(p.errs)
	r = Rule{Name: fmt.Sprintf("rule %d", idx), Line: lineOf(n)}
	es, ok := p.fields(n, fmt.Sprintf("rule %d", idx), ruleKeys)
	if !ok {
		return r, false
	}
	var action, onFailure *entry
	for i := range es {
		e := &es[i]
		switch e.key {
		case "name":
			if s, ok := p.str(e.v, "name"); ok {
				if utf8.RuneCountInString(s) > maxNameLen || !printable(s) {
					p.errorf(e.v, "name: want at most %d printable characters", maxNameLen)
				}
				r.Name = s
			}
		case "match":
			if isNull(e.v) {
				p.errorf(e.k, "match: empty (leave match out to match every request)")
				continue
			}
			r.Match = p.match(e.v)
		case "on_failure":
			onFailure = e
		default:
			if action != nil {
				p.errorf(e.k, "%s: a second action (%s at line %d): a rule has exactly one", e.key, action.key, action.k.Line)
				continue
			}
			action = e
			r.Action = p.action(e)
		}
	}
	if action == nil {
		p.errorf(n, "%s: no action: want one of %s", label(idx, r.Name), strings.Join(actionKeys, ", "))
	}
	if onFailure != nil {
		r.OnFailure = p.onFailure(onFailure, action)
	}
	return r, len(p.errs) == before
}

// action walks the value of an action key.
func (p *parser) action(e *entry) Action {
	a := Action{Kind: ActionKind(e.key)}
	switch a.Kind {
	case Location, Registrar, OptionsReply:
		if !isNull(e.v) && (e.v.Kind != yaml.MappingNode || len(e.v.Content) > 0) {
			p.errorf(e.v, "%s: takes no value, write %s: {}", e.key, e.key)
		}
	case Relay:
		if s, ok := p.str(e.v, "relay"); ok {
			a.URI = s
			p.relayURI(e.v, s)
		}
	case App:
		if s, ok := p.str(e.v, "app"); ok {
			a.App = s
			if !appNameRE.MatchString(s) {
				p.errorf(e.v, "app: %q: want 1-64 characters of [A-Za-z0-9_-] (a NATS subject token)", s)
			}
		}
	case Reply:
		a.Code, a.Reason = p.reply(e.v)
	}
	return a
}

func (p *parser) relayURI(n *yaml.Node, s string) {
	u, err := sipmsg.ParseURI(s)
	switch {
	case err != nil:
		p.errorf(n, "relay: %v", err)
	case u.Scheme != "sip" && u.Scheme != "sips":
		p.errorf(n, "relay: %q: want a sip: or sips: URI", s)
	case u.Host == "":
		p.errorf(n, "relay: %q: no host", s)
	}
}

// reply walks {code: N, reason: text}.
func (p *parser) reply(n *yaml.Node) (code int, reason string) {
	es, ok := p.fields(n, "reply", replyKeys)
	if !ok {
		return 0, ""
	}
	var codeNode *yaml.Node
	for _, e := range es {
		switch e.key {
		case "code":
			codeNode = e.v
			if e.v.Kind != yaml.ScalarNode || e.v.ShortTag() != "!!int" || e.v.Decode(&code) != nil {
				p.errorf(e.v, "reply.code: want a number 300-699, got %s", describe(e.v))
				code = 0
			} else if code < 300 || code > 699 {
				p.errorf(e.v, "reply.code: %d: want 300-699 (a route cannot send 1xx or 2xx)", code)
			}
		case "reason":
			if s, ok := p.str(e.v, "reply.reason"); ok {
				if utf8.RuneCountInString(s) > maxReasonLen || !printable(s) {
					p.errorf(e.v, "reply.reason: want at most %d printable characters (no line breaks)", maxReasonLen)
				}
				reason = s
			}
		}
	}
	if codeNode == nil {
		p.errorf(n, "reply: code missing")
	}
	if reason == "" {
		reason = sipmsg.StatusText(code)
	}
	return code, reason
}

// onFailure walks on_failure: one relay or reply action, allowed after the
// actions that send requests (location, relay).
func (p *parser) onFailure(e *entry, main *entry) *Action {
	es, ok := p.fields(e.v, "on_failure", actionKeys)
	if !ok {
		return nil
	}
	if main != nil && main.key != string(Location) && main.key != string(Relay) {
		p.errorf(e.k, "on_failure: only after location or relay (a %s rule sends no request that can fail)", main.key)
	}
	if len(es) == 0 {
		p.errorf(e.v, "on_failure: no action: want relay or reply")
		return nil
	}
	for _, x := range es[1:] {
		p.errorf(x.k, "on_failure: %s: a second action (%s at line %d): want exactly one", x.key, es[0].key, es[0].k.Line)
	}
	x := &es[0]
	if x.key != string(Relay) && x.key != string(Reply) {
		p.errorf(x.k, "on_failure: %s not allowed: want relay or reply", x.key)
		return nil
	}
	a := p.action(x)
	return &a
}

// match walks a match mapping.
func (p *parser) match(n *yaml.Node) Match {
	var m Match
	es, _ := p.fields(n, "match", matchKeys)
	seen := make(map[string]*entry, len(es))
	for i := range es {
		e := &es[i]
		seen[e.key] = e
		key := "match." + e.key
		switch e.key {
		case "method":
			vals, nodes := p.list(e.v, key)
			for i, s := range vals {
				if !isToken(s) {
					p.errorf(nodes[i], "%s: %q is not a method name (an RFC 3261 token)", key, s)
					continue
				}
				m.Methods = append(m.Methods, strings.ToUpper(s))
			}
		case "user":
			m.User, _ = p.str(e.v, key)
		case "user_regex":
			m.UserRE = p.regex(e.v, key, "")
		case "domain":
			if s, ok := p.str(e.v, key); ok {
				if d, ok := hostName(s); ok {
					m.Domain = d
				} else {
					p.errorf(e.v, "%s: %q is not a host name or IP address (no scheme, no port)", key, s)
				}
			}
		case "domain_regex":
			m.DomainRE = p.regex(e.v, key, "(?i)")
		case "source":
			vals, nodes := p.list(e.v, key)
			for i, s := range vals {
				pfx, err := source(s)
				if err != nil {
					p.errorf(nodes[i], "%s: %q: %v", key, s, err)
					continue
				}
				m.Sources = append(m.Sources, pfx)
			}
		case "header":
			vals, nodes := p.list(e.v, key)
			for i, s := range vals {
				if !isToken(s) {
					p.errorf(nodes[i], "%s: %q is not a header name (an RFC 3261 token)", key, s)
					continue
				}
				m.Headers = append(m.Headers, s)
			}
		case "local_domain":
			m.LocalDomain, _ = p.boolean(e.v, key)
		case "to_self":
			m.ToSelf, _ = p.boolean(e.v, key)
		}
	}
	for _, pair := range [][2]string{{"user", "user_regex"}, {"domain", "domain_regex"}} {
		a, b := seen[pair[0]], seen[pair[1]]
		if a != nil && b != nil {
			later := b
			if a.k.Line > b.k.Line {
				later = a
			}
			p.errorf(later.k, "match: %s and %s both set: use one", pair[0], pair[1])
		}
	}
	return m
}

// regex compiles a user_regex or domain_regex anchored at both ends.
func (p *parser) regex(n *yaml.Node, key, flags string) *regexp.Regexp {
	s, ok := p.str(n, key)
	if !ok {
		return nil
	}
	if _, err := regexp.Compile(s); err != nil {
		p.errorf(n, "%s: %v", key, err)
		return nil
	}
	re, err := regexp.Compile(flags + "^(?:" + s + ")$")
	if err != nil {
		p.errorf(n, "%s: %v", key, err)
		return nil
	}
	return re
}

// source parses an IP address (a /32 or /128) or a CIDR prefix. IPv4-mapped
// IPv6 prefixes become IPv4 ones, like the addresses Match compares.
func source(s string) (netip.Prefix, error) {
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if pfx, err = netip.ParsePrefix(s); err != nil {
			return pfx, fmt.Errorf("not a CIDR prefix: %s", netipReason(err))
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return pfx, fmt.Errorf("not an IP address or CIDR prefix: %s", netipReason(err))
		}
		if a.Zone() != "" {
			return pfx, errors.New("an IPv6 zone is not allowed")
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	return pfx.Masked(), nil
}

// netipReason drops the call that net/netip errors begin with, which
// repeats the input.
func netipReason(err error) string {
	if _, reason, ok := strings.Cut(err.Error(), "): "); ok {
		return reason
	}
	return err.Error()
}

// hostName lower-cases a host name or IP address (IPv6 brackets removed);
// ok is false for anything else, such as a host with a port or a URI.
func hostName(s string) (string, bool) {
	s = strings.ToLower(s)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		return s[1 : len(s)-1], err == nil && a.Is6() && a.Zone() == ""
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return s, a.Zone() == ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", false
		}
	}
	return s, true
}

// isToken reports whether s is an RFC 3261 token (method and header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if strings.IndexByte("-.!%*_+`'~", c) < 0 {
			return false
		}
	}
	return true
}

// printable reports whether s is valid UTF-8 without control characters
// (a reason phrase must not break the status line).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// empty reports whether m has no condition (it matches every request).
func (m *Match) empty() bool {
	return len(m.Methods) == 0 && m.User == "" && m.UserRE == nil && m.Domain == "" && m.DomainRE == nil &&
		len(m.Sources) == 0 && len(m.Headers) == 0 && m.LocalDomain == nil && m.ToSelf == nil
}
