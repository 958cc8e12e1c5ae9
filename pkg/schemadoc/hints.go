package schemadoc

import "sort"

// Realistic example values by property name (RFC 5737 / RFC 3849
// addresses, example.com). A schema's own "examples" win over these.

const sipInvite = "INVITE sip:bob@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n" +
	"To: <sip:bob@example.com>\r\n" +
	"Call-ID: a84b4c76e66710@pc33.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@192.0.2.1:5060>\r\n" +
	"Content-Length: 0\r\n\r\n"

var strHints = map[string]string{
	"call_id": "a84b4c76e66710@pc33.example.com", "callid": "a84b4c76e66710@pc33.example.com",
	"subject": "a84b4c76e66710@pc33.example.com",
	"callkey": "fedcba9876543210", "call_key": "fedcba9876543210",
	"aor": "bob@example.com", "aorkey": "0123456789abcdef", "aor_key": "0123456789abcdef",
	"contact": "sip:bob@192.0.2.4:5060;transport=udp", "received": "sip:192.0.2.4:5060",
	"uri": "sip:192.0.2.20:5060", "request_uri": "sip:bob@example.com", "next_hop": "sip:192.0.2.20:5060",
	"from": "sip:alice@example.com", "to": "sip:bob@example.com", "caller": "sip:alice@example.com",
	"callee": "sip:bob@example.com", "user": "bob@example.com", "owner": "click-to-dial",
	"email": "bob@example.com", "name": "Bob", "display_name": "Bob", "password": "s3cret-Passw0rd",
	"tz": "Europe/Berlin", "time_zone": "Europe/Berlin", "timezone": "Europe/Berlin",
	"transport": "udp", "siptransport": "udp", "proto": "udp",
	"source": "192.0.2.1:5060", "remote": "192.0.2.1:5060", "sipremote": "192.0.2.1:5060",
	"local": "192.0.2.10:5060", "siplocal": "192.0.2.10:5060", "dest": "udp:192.0.2.4:5060", "sipdest": "udp:192.0.2.4:5060",
	"edge": "edge-1", "sipedge": "edge-1", "flow": "edge-1~17", "sipflow": "edge-1~17", "sipbacklog": "1500",
	"method": "INVITE", "reason": "OK", "tx_key": "z9hG4bK776asdhds|192.0.2.1:5060|INVITE", "siptxkey": "z9hG4bK776asdhds|192.0.2.1:5060|INVITE",
	"user_agent": "baresip 3.10", "path": "<sip:edge-1@192.0.2.10;lr>", "instance": "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>",
	"id": "0f8fad5b-d9cb-469f-a165-70867728950e", "specversion": "1.0", "type": "sipbus.sip.request.received.v2",
	"datacontenttype": "message/sip", "cursor": "", "header": "CSeq", "error": "550 5.1.1 mailbox unavailable",
	"message_id": "<0f8fad5b@sipbus.example.com>", "dialog_id": "a84b4c76e66710@pc33.example.com;1928301774;a6c85cf",
	"body": "", "hangup_by": "caller", "display": "Bob", "realm": "example.com", "content_type": "application/sdp",
	"branch": "z9hG4bK776asdhds", "from_tag": "1928301774", "to_tag": "a6c85cf", "data": sipInvite,
	"dataschema": "https://sipbus.dev/schemas/sipbus.call.missed.v1.json", "detail": "550 5.1.1 mailbox unavailable",
	"event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "event_type": "sipbus.call.missed.v1", "field": "aor",
	"key": "mail.call.missed.0f8fad5b", "message": "aor: missing", "natssubject": "call.missed.fedcba9876543210",
	"requested_by": "sipbus/tm/tm-1", "rule": "missed-call", "sipheader": "CSeq", "sipreason": "Bad CSeq",
	"time": "2026-11-25T09:00:00.123Z", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"expires_at": "2026-11-25T10:00:00.123Z", "ended_at": "2026-11-25T09:01:05.123Z", "answered_at": "2026-11-25T09:00:05.123Z",
	"updated": "2026-11-25T09:30:00Z", "until": "2026-11-25T09:01:00.123Z",
	"caller/uri": "sip:alice@example.com", "caller/display": "Alice", "callee/uri": "sip:bob@example.com",
}

var intHints = map[string]float64{
	"status": 200, "code": 603, "cseq": 314159, "expires": 3600, "limit": 100, "count": 1,
	"final_status": 486, "duration_ms": 65000, "window_ms": 2000,
}

var boolHints = map[string]bool{"dry_run": true, "enabled": true, "missed_call_email": true, "local_user": true}

var formats = map[string]string{
	"date-time": "2026-11-25T09:00:00.123Z", "email": "bob@example.com", "uri": "https://sipbus.example.com/",
	"ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "duration": "PT1H",
}

// intPool: numbers tried in order when a hint does not fit the bounds.
var intPool = []float64{200, 550, 486, 300, 100, 60, 1, 0}

// strPool: strings tried in order when neither the name's hint nor the
// format fits the pattern (sorted hint values follow, see init).
var strPool = []string{
	"sipbus/edge/edge-1", "486", "Busy Here", "X-Screened: yes", "0123456789abcdef0123456789abcdef",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "192.0.2.4:5060", "udp:192.0.2.4:5060",
}

func init() {
	vals := make([]string, 0, len(strHints))
	for _, v := range strHints {
		vals = append(vals, v)
	}
	sort.Strings(vals)
	strPool = append(strPool, vals...)
}
