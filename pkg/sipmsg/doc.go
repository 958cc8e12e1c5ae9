// Package sipmsg is the SIP wire model every sipbus service shares.
//
// A Msg is the raw bytes of one SIP message plus an Index: the start-line
// parts, every header's name (with its long form when written compact), the
// offsets and lengths of header names and values, and the body. This is the
// SEAS idea: the edge indexes a message once, the index travels with the raw
// bytes in every event, and no subscriber parses the message again. Building
// the index allocates nothing for a typical message (up to InlineHeaders
// header lines) when the Msg is reused.
//
// Typed views (Via, From/To, CSeq, Contact, ...) are built on demand from the
// index. Check applies the sanity checks of RFC 3261 §16.3 and the RFC 4475 /
// RFC 5118 torture tests and returns a *Fault that names what is wrong and the
// response a server should send (400 with a reason, 505, 416, 420, ...).
//
// Transaction keys follow RFC 3261 §17.1.3 and §17.2.3 with the RFC 2543
// fallback; CallKey is the short hash of a Call-ID used in NATS subjects and
// Redis hash tags.
//
// # Parsing decisions
//
// Parse is liberal in what it indexes and leaves judgement to Check: leading
// CRLFs are skipped; bare LF line ends are accepted (RFC 5118's archived
// messages use them); extra SP between or after the request-line elements
// is ignored (RFC 4475 lwsstart, trws); a Request-URI with embedded LWS or
// <> and header names that are not tokens still index, so the element can
// answer 400 instead of dropping. Parse fails only when there is no start
// line, a line has no colon, or a limit (MaxHeaderLines, MaxMessageSize) is
// passed. Methods are case-sensitive (RFC 3261 §7.1). Header values exclude
// surrounding LWS and keep folding; Value/Values unfold it to one SP.
// Datagram framing truncates a body longer than Content-Length (RFC 4475
// dblreq) and takes the rest of the datagram when Content-Length is absent
// (inv2543); stream framing takes an absent Content-Length as 0. A negative,
// non-numeric or conflicting Content-Length indexes as CLInvalid.
//
// # Check decisions
//
// Check runs per Role. Every role checks the version (505), the mandatory
// To, From, Call-ID, CSeq and Via (400 "Missing Call-ID"), duplicates of
// single-valued headers (RFC 4475 multi01), CSeq number and method (an
// unknown method with a mismatched CSeq gives 501, a known one 400: RFC 4475
// mismatch01/02), Max-Forwards 0..255, Content-Length against the body
// (clerr), the Request-URI (416 for schemes outside sip/sips/tel, 400 for
// <>, LWS, escaped headers, IPv6 without brackets) and the syntax of Via,
// From, To, Contact, Route and Record-Route. Max-Forwards is not mandatory:
// a proxy adds it (RFC 3261 §16.6) and RFC 2543 clients omit it. RoleProxy
// adds RFC 3261 §16.3: Max-Forwards 0 gives 483 (for OPTIONS the caller may
// answer as a UAS instead) and Proxy-Require tags 420. RoleEndpoint and
// RoleRegistrar follow RFC 3261 §8.2 in order: 501 for a method outside
// Methods, the registrar's SIP/SIPS address-of-record (400), Require 420,
// an Authorization scheme outside AuthSchemes 401, a body type outside
// Accept 415, an INVITE whose Accept rules out every type 406. A response
// fault always has Status 0 (drop): a status code outside 100..699, a bad
// CSeq, more than one Via at an endpoint (RFC 3261 §8.1.3.3), a broadcast
// next hop at a proxy (RFC 4475 bcast).
//
// The RFC 4475 and RFC 5118 torture messages and their expected outcomes
// per role live in testdata/ (manifest.json per folder); TestTortureManifests
// holds the package to them.
//
// # Typed views, keys and replies
//
// Views (Vias, From, To, CSeq, Contacts, Routes, ...) parse on each call
// from the index: values are unfolded first, comma lists are split outside
// quoted strings, <...> and [...], and errors wrap an Err... sentinel
// (ErrBadURI, ErrBadVia, ...) with a text naming the fault; absent headers
// give ErrMissingHeader or the documented -1 / "" / nil. Host names and
// parameter names are lower-cased, parameter values kept as written. A SIP
// URI host must put IPv6 in brackets (RFC 5118 §4.2: "sip:2001:db8::10" is
// an error); the inside of the brackets is checked leniently so the
// three-colon form of §4.10 is accepted; received=[v6] loses its brackets
// (§4.5). In a bare addr-spec every ;param is a header parameter (RFC 3261
// §20.10). Msg.Sipgo hands the message to sipgo for services that want its
// API; sipgo is stricter in places (it rejects LWS inside the Via
// sent-protocol), so it can fail where the views succeed.
//
// Server transaction keys are RFC 3261 §17.2.3 (branch, sent-by, method with
// ACK as INVITE; CANCEL has its own key, ServerTxKeyFor finds the INVITE it
// targets) or, without the magic cookie, a hash of the RFC 2543 fields that
// leaves out the To tag for INVITE/ACK (see txkey.go). Signer signs the
// to-tags of stateless replies; Reply builds an RFC 3261 §8.2.6 response in
// one buffer and can never be made to carry an injected header line.
package sipmsg
