package routes

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// ActionKind names what a rule does with the requests it matches. The
// values are the keys of the route file.
type ActionKind string

// Action kinds.
const (
	Location     ActionKind = "location"      // relay to the registered contacts of the request-URI (location service)
	Relay        ActionKind = "relay"         // relay to a fixed next hop URI (Action.URI)
	Reply        ActionKind = "reply"         // reply Action.Code Action.Reason
	App          ActionKind = "app"           // hand the transaction to application Action.App (a NATS subject token)
	Registrar    ActionKind = "registrar"     // leave it to the registrar service (tm does nothing)
	OptionsReply ActionKind = "options_reply" // 200 OK with Allow/Supported (OPTIONS to the proxy itself)
)

// Action is what to do with a matched request, or with a failed relay
// (Rule.OnFailure). Only the fields of its Kind are set.
type Action struct {
	Kind   ActionKind
	URI    string // Relay: a sip: or sips: URI with a host, as written
	Code   int    // Reply: 300-699
	Reason string // Reply: the reason phrase; the standard one for Code when the file gives none
	App    string // App: [A-Za-z0-9_-]{1,64}, a NATS subject token
}

// Match is the condition of a rule: every field that is set must hold (an
// empty Match holds for every request).
type Match struct {
	// Methods lists the request methods, upper case; empty = any. The
	// request's method compares exactly (methods are case-sensitive, RFC
	// 3261 §7.1).
	Methods []string

	// User is the request-URI user, compared exactly (RFC 3261 §19.1.4);
	// UserRE a regular expression that must match all of it. At most one is
	// set.
	User   string
	UserRE *regexp.Regexp

	// Domain is the request-URI host, lower case, compared
	// case-insensitively; DomainRE a case-insensitive regular expression
	// that must match all of it. At most one is set.
	Domain   string
	DomainRE *regexp.Regexp

	// Sources: the source address must be in one of these prefixes (an
	// IPv4-mapped IPv6 address counts as IPv4). Empty = any source.
	Sources []netip.Prefix

	// Headers: each header must be present. Names are as written in the
	// file; Request.HasHeader compares them case-insensitively.
	Headers []string

	// LocalDomain, when set, must equal Request.LocalDomain (the host is one
	// of our domains); ToSelf likewise Request.ToSelf (the request-URI
	// addresses the proxy itself: our address, no user).
	LocalDomain *bool
	ToSelf      *bool
}

// Rule is one entry of the route table.
type Rule struct {
	Name      string  // from the file, or "rule N" (N counts from 1)
	Line      int     // line of the rule in its file; 0 for Default()
	Match     Match   // the condition
	Action    Action  // what to do with a matching request
	OnFailure *Action // Relay or Reply, when every branch of Action (Location or Relay) failed; nil = pass the best response upstream
}

// Table is an ordered route table: the first rule whose Match holds decides.
// It is not changed after Parse, so Match may be called concurrently.
type Table struct {
	Rules []Rule
	File  string // the file it was parsed from; "" for Default()
}

// Request is what the table looks at: the parts of an out-of-dialog
// request that rules can match, filled by the caller.
type Request struct {
	Method string // as in the request line
	User   string // request-URI user, unescaped ("" when none)
	Host   string // request-URI host: lower case, no port, IPv6 without brackets
	Source netip.Addr

	// HasHeader reports whether the request carries a header, comparing the
	// name case-insensitively. nil = the request has no headers a rule can
	// ask for.
	HasHeader func(name string) bool

	LocalDomain bool // Host is one of our domains
	ToSelf      bool // the request-URI addresses the proxy itself
}

// Match returns the first rule, in order, that matches r. ok is false when
// none does: the caller decides (end a table with a rule without match to
// decide it in the file). A nil table matches nothing.
func (t *Table) Match(r Request) (rule *Rule, ok bool) {
	if t == nil {
		return nil, false
	}
	src := r.Source.Unmap()
	for i := range t.Rules {
		if t.Rules[i].Match.holds(&r, src) {
			return &t.Rules[i], true
		}
	}
	return nil, false
}

// holds reports whether every condition of m holds for r; cheap tests first.
func (m *Match) holds(r *Request, src netip.Addr) bool {
	if len(m.Methods) > 0 && !contains(m.Methods, r.Method) {
		return false
	}
	if m.LocalDomain != nil && *m.LocalDomain != r.LocalDomain {
		return false
	}
	if m.ToSelf != nil && *m.ToSelf != r.ToSelf {
		return false
	}
	if m.Domain != "" && !strings.EqualFold(m.Domain, r.Host) {
		return false
	}
	if m.User != "" && m.User != r.User {
		return false
	}
	if len(m.Sources) > 0 && !inAny(m.Sources, src) {
		return false
	}
	for _, h := range m.Headers {
		if r.HasHeader == nil || !r.HasHeader(h) {
			return false
		}
	}
	if m.UserRE != nil && !m.UserRE.MatchString(r.User) {
		return false
	}
	if m.DomainRE != nil && !m.DomainRE.MatchString(r.Host) {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func inAny(prefixes []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Default returns the table tm uses without a route file (the same as
// testdata/default.yaml):
//
//  1. REGISTER → registrar (tm leaves it to the registrar service);
//  2. OPTIONS addressed to the proxy itself → options_reply;
//  3. a request-URI in one of our domains → location;
//  4. anything else → reply 403 Relaying denied (no open relay).
//
// AlwaysRegistrar reports whether every request of method goes to the
// registrar: the first rule that can match it names only methods, method
// among them, and hands over to the registrar. tm then need not read such
// requests at all.
func (t *Table) AlwaysRegistrar(method string) bool {
	for i := range t.Rules {
		r := &t.Rules[i]
		if len(r.Match.Methods) > 0 && !slices.Contains(r.Match.Methods, method) {
			continue // cannot match method
		}
		only := r.Match
		only.Methods = nil
		return len(r.Match.Methods) > 0 && only.empty() && r.Action.Kind == Registrar
	}
	return false
}

func Default() *Table {
	yes := true
	return &Table{Rules: []Rule{
		{Name: "register", Match: Match{Methods: []string{"REGISTER"}}, Action: Action{Kind: Registrar}},
		{Name: "options-to-self", Match: Match{Methods: []string{"OPTIONS"}, ToSelf: &yes}, Action: Action{Kind: OptionsReply}},
		{Name: "local-domain", Match: Match{LocalDomain: &yes}, Action: Action{Kind: Location}},
		{Name: "no-relay", Action: Action{Kind: Reply, Code: 403, Reason: "Relaying denied"}},
	}}
}
