// Package sipdns locates SIP servers (RFC 3263): it turns the URI a
// request is sent to (the first Route, else the Request-URI) into the
// transports, addresses and ports to try, in order. tm uses it for every
// next hop; the failover between the targets (503, timeout) is tm's, one
// new client transaction per target.
//
// # The algorithm (RFC 3263 §4)
//
// TARGET is the URI's maddr parameter, else its host. Then:
//
//  1. TARGET is an IP address: that address, the URI's port or the
//     default one (5060; 5061 for TLS), the transport parameter's
//     transport or UDP (TLS for sips:). No DNS (Literal).
//  2. The URI has a port: A records of TARGET (and AAAA when
//     Config.IPv6), that port, the transport of step 1. No NAPTR, no SRV.
//  3. The URI names a transport (transport=udp|tcp|tls; sips: is always
//     TLS): SRV records of _sip._udp, _sip._tcp or _sips._tcp.TARGET;
//     without SRV records, A records with the default port.
//  4. Otherwise NAPTR records of TARGET. Kept are those with flag "s", no
//     regular expression, and a service this client supports: SIP+D2U
//     (UDP), SIP+D2T (TCP), SIPS+D2T (TLS); for a sips: URI only SIPS+D2T.
//     Of those, the lowest order only (RFC 3403), by preference; the
//     targets of each one's SRV name are tried in that order. SIP+D2S
//     (SCTP) and the WebSocket services are not used: tm does not open
//     such connections.
//  5. No usable NAPTR: SRV for each transport in the order UDP, TCP, TLS
//     (TLS only for sips:); the first that has records is used.
//  6. No SRV: A records of TARGET, UDP (TLS for sips:), port 5060 (5061).
//
// SRV records are ordered as RFC 2782 says: by priority, lowest first,
// and within a priority by a weighted random draw repeated on the
// records left (weight 0 rarely first; uniformly when all weigh 0). Each resolution
// draws anew, so calls spread over the servers of a priority as their
// weights say; Query.Seed makes the draw repeatable for a stateless
// forward (RFC 3263 §4.4). A single SRV record with target "." means the
// service is decidedly not available: ErrNoService, no fallback to A.
// Every SRV target's addresses follow it in the list (A first, then
// AAAA), at most Config.MaxTargets targets in all, each once.
//
// # Failures, caching, bounds
//
// Answers are cached per name and type for their TTL (the smallest of
// the records used, capped by MaxTTL); "no such domain" and "no records"
// for the SOA's negative TTL (RFC 2308), or NegativeTTL without one; a
// failure (timeout, SERVFAIL, REFUSED) for ErrorTTL, so a dead server is
// asked once every few seconds, not once per call. Only one query per
// name and type is in flight: callers arriving meanwhile share its
// answer. Cached answers a query without any I/O (ok false when a record
// it needs is missing): tm calls it under a partition's lock, and
// Resolve, which may wait for DNS, outside it.
//
// One Resolve takes at most Config.Timeout (default 2 s): the servers
// are asked in turn, twice round, each attempt getting a share of the
// timeout; a truncated UDP answer is asked again over TCP; an answer
// other than NOERROR or NXDOMAIN moves on to the next server. A CNAME
// chain is followed within the answer and, where the answer stops short
// of the end, with another query: at most 8 names, a loop is
// ErrCNAMELoop. Records of other names, and unusable records (an SRV
// target or NAPTR replacement that is not a host name, an unspecified or
// multicast address), are ignored; additional records are not used (each
// SRV target is asked, then cached), so an answer cannot plant addresses
// for names it was not asked about.
//
// Every failure is an *Error wrapping ErrNXDomain, ErrNoRecords,
// ErrNoService, ErrCNAMELoop, ErrBadAnswer, ErrServer, ErrTimeout,
// ErrNoServers, ErrBusy, ErrBadName or ErrTransport, with the name and
// type asked; names from the network are escaped (Safe), so the text is
// fit for a log line. Temporary tells the failures that may pass (a
// server that failed or did not answer).
//
// Names are absolute: the search list of resolv.conf is not applied.
// Without Config.Servers the nameservers of /etc/resolv.conf are asked
// and /etc/hosts answers A and AAAA first, as the system's resolver does.
package sipdns
