// Package routes is the route table of the transaction manager: what tm does
// with an out-of-dialog request, the heir of Kamailio's request_route, and
// what it does when relaying fails, the heir of failure_route. It is data,
// not a script: an ordered list of rules, each a condition (match) and one
// action, loaded from a YAML file and checked strictly when tm starts.
//
// # Format
//
// A route file holds one mapping with one key, routes, a non-empty list of
// rules. This one uses every key (it is testdata/example.yaml, loaded by a
// test):
//
//	routes:
//	  - name: busy-bob                 # optional; default "rule N" (N counts from 1)
//	    match:
//	      method: INVITE               # a string or a list
//	      user: bob                    # exact; or  user_regex: '\+49[0-9]+'
//	      domain: example.com          # exact, any case; or  domain_regex: '(.+\.)?example\.com'
//	      source: [10.0.0.0/8, 192.0.2.7, '2001:db8::/32']
//	      header: [X-Priority]         # each must be present
//	      local_domain: true
//	      to_self: false
//	    reply: {code: 486, reason: Busy Here}
//	  - name: emergency
//	    match: {method: [INVITE, MESSAGE], user_regex: '112|911'}
//	    relay: sip:psap.example.net;transport=tcp
//	  - match: {method: INVITE, local_domain: true}
//	    location: {}
//	    on_failure:
//	      relay: sip:voicemail@192.0.2.10:5070
//	  - match: {method: REGISTER}
//	    registrar: {}
//	  - match: {method: OPTIONS, to_self: true}
//	    options_reply: {}
//	  - match: {method: MESSAGE, user: echo}
//	    app: echo
//	  - reply: {code: 403, reason: Relaying denied}   # no match = always
//
// A rule has an optional name, an optional match and exactly one action:
//
//	location: {}        relay to the contacts registered for the request-URI
//	relay: URI          relay to a fixed next hop, a sip: or sips: URI with a host
//	                    (a domain name is resolved as RFC 3263 says: NAPTR, SRV,
//	                    A; a 503 or a timeout fails over to the next target)
//	reply: {code: N, reason: text}
//	                    answer N (300-699); reason defaults to the standard phrase
//	app: NAME           hand the transaction to application NAME ([A-Za-z0-9_-]{1,64},
//	                    a NATS subject token)
//	registrar: {}       leave the request to the registrar service (tm does nothing)
//	options_reply: {}   answer 200 OK with Allow and Supported (OPTIONS to the proxy)
//
// A location or relay rule may add on_failure, one relay or reply action
// run when every branch failed (no final response below 300, or timeout).
// Without it the best response goes upstream (RFC 3261 §16.7).
//
// # Matching
//
// Rules are tried in order; the first whose every condition holds decides
// (Table.Match). A rule without match, or with match: {}, holds for every
// request, so a rule after it is an error. When no rule holds, the caller
// decides: end the table with such a rule to decide in the file.
//
//   - method: the request method, one name or a list. Names are upper-cased
//     when loaded and the request's method compares exactly (methods are
//     case-sensitive, RFC 3261 §7.1).
//   - user: the request-URI user, unescaped, compared exactly (RFC 3261
//     §19.1.4). domain: the request-URI host (a name or an IP address, no
//     port), compared case-insensitively.
//   - user_regex, domain_regex: Go regular expressions (RE2 syntax, see
//     regexp/syntax) that must match the WHOLE value: the expression is
//     wrapped as ^(?:re)$, so '\+49[0-9]+' matches "+4930123" but not
//     "x+4930123" or "+4930123x"; write '.*bob.*' to search. domain_regex
//     ignores case. user and user_regex are exclusive, as are domain and
//     domain_regex.
//   - source: the address the request came from is in one of these: CIDR
//     prefixes or single addresses (a /32 or /128), IPv4 or IPv6. An
//     IPv4-mapped IPv6 source (::ffff:192.0.2.7) counts as IPv4.
//   - header: each named header is present (names compare
//     case-insensitively; a compact form is a different name).
//   - local_domain: the request-URI host is (true) or is not (false) one of
//     our domains. to_self: the request-URI is (true) or is not (false) the
//     proxy itself (one of our addresses, no user).
//
// # Strictness
//
// Parse reports every problem (up to ten) as an *Error reading
// "file:line: message": YAML syntax, an unknown or repeated key anywhere, a
// value of the wrong shape, a rule with no action or two, user with
// user_regex (domain with domain_regex), a regular expression that does not
// compile, a bad address or prefix, a method or header name that is not an
// RFC 3261 token, a reply code outside 300-699, a relay URI that is not
// sip:/sips: or has no host, an app name outside [A-Za-z0-9_-]{1,64},
// on_failure with an action other than relay or reply or on a rule that
// relays nothing, a repeated rule name, a rule after one that matches
// everything, an empty routes list, a key beside routes, YAML aliases, and
// a second YAML document. Booleans are true and false (not yes and no).
//
// Default is the table used without a file (testdata/default.yaml):
// REGISTER to the registrar, OPTIONS to the proxy itself answered, local
// domains to the location service, everything else 403 Relaying denied.
package routes
