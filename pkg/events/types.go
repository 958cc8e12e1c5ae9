package events

// CloudEvent types and command names: one constant per file in schemas/ (the
// file is the name plus ".json"). Explicit wire names, never derived from Go
// type names.
const (
	// SIP messages (sip.<partition>.in|out...., see pkg/bus): binary
	// CloudEvents whose data is the message itself (content type
	// message/sip) and whose attributes say where it came from or goes
	// (SIP, DecodeSIP).
	TypeRequestReceived  = "sipbus.sip.request.received.v2"
	TypeResponseReceived = "sipbus.sip.response.received.v2"
	TypeMessageSent      = "sipbus.sip.message.sent.v2"
	TypeMessageRejected  = "sipbus.sip.message.rejected.v2"

	// Retired types: no service emits them any more; their schemas and Go
	// types stay so that events logged before v2 remain readable. The v1
	// SIP events carried the message base64-encoded in JSON with a JSON
	// header index (SIPMessage); the edge created a tx.created event per
	// transaction and a tx.absorbed event per retransmission, which it now
	// counts instead (sipbus stats).
	TypeRequestReceivedV1  = "sipbus.sip.request.received.v1"
	TypeResponseReceivedV1 = "sipbus.sip.response.received.v1"
	TypeMessageSentV1      = "sipbus.sip.message.sent.v1"
	TypeMessageRejectedV1  = "sipbus.sip.message.rejected.v1"
	TypeTxCreated          = "sipbus.tx.created.v1"
	TypeTxAbsorbed         = "sipbus.tx.retransmission.absorbed.v1"

	// Call lifecycle (call.<event>.<p>, CloudEvent subject = Call-ID).
	TypeCallStarted  = "sipbus.call.started.v1"
	TypeCallRinging  = "sipbus.call.ringing.v1"
	TypeCallAnswered = "sipbus.call.answered.v1"
	TypeCallEnded    = "sipbus.call.ended.v1"  // terminal
	TypeCallMissed   = "sipbus.call.missed.v1" // terminal

	// Registrar bindings (reg.contact.<event>.<p>, CloudEvent subject =
	// AOR); all four carry a RegContact.
	TypeRegContactAdded     = "sipbus.reg.contact.added.v1"
	TypeRegContactRefreshed = "sipbus.reg.contact.refreshed.v1"
	TypeRegContactRemoved   = "sipbus.reg.contact.removed.v1"
	TypeRegContactExpired   = "sipbus.reg.contact.expired.v1"

	// CommandTM is tm's application command (NATS request/reply): reply to
	// or relay a transaction handed to an application.
	CommandTM = "sipbus.tm.command.v1"
)

// SchemaBase is the prefix of every schema $id and dataschema attribute.
const SchemaBase = "https://sipbus.dev/schemas/"

// SchemaURL is the $id (and dataschema) of the schema of type typ.
func SchemaURL(typ string) string { return SchemaBase + typ + ".json" }

// ByType maps every event type and command name to a constructor of its Go
// type (a pointer, ready for json.Unmarshal).
var ByType = map[string]func() any{
	TypeRequestReceivedV1:  func() any { return new(RequestReceived) },
	TypeResponseReceivedV1: func() any { return new(ResponseReceived) },
	TypeMessageSentV1:      func() any { return new(MessageSent) },
	TypeMessageRejectedV1:  func() any { return new(MessageRejected) },
	TypeTxCreated:          func() any { return new(TxCreated) },
	TypeTxAbsorbed:         func() any { return new(TxAbsorbed) },
	CommandTM:              func() any { return new(TMCommand) },
	CommandTMUAC:           func() any { return new(TMUAC) },

	TypeCallStarted:  func() any { return new(CallStarted) },
	TypeCallRinging:  func() any { return new(CallRinging) },
	TypeCallAnswered: func() any { return new(CallAnswered) },
	TypeCallEnded:    func() any { return new(CallEnded) },
	TypeCallMissed:   func() any { return new(CallMissed) },

	TypeRegContactAdded:     func() any { return new(RegContactAdded) },
	TypeRegContactRefreshed: func() any { return new(RegContactRefreshed) },
	TypeRegContactRemoved:   func() any { return new(RegContactRemoved) },
	TypeRegContactExpired:   func() any { return new(RegContactExpired) },

	TypeEdgeBlocked: func() any { return new(EdgeBlocked) },

	CommandRegistrarUserAdd:    func() any { return new(RegistrarUserAdd) },
	CommandRegistrarUserList:   func() any { return new(RegistrarUserList) },
	CommandRegistrarUserRemove: func() any { return new(RegistrarUserRemove) },
	CommandRegistrarUserPasswd: func() any { return new(RegistrarUserPasswd) },
	CommandRegistrarULShow:     func() any { return new(RegistrarULShow) },
	CommandRegistrarULAdd:      func() any { return new(RegistrarULAdd) },
	CommandRegistrarULRemove:   func() any { return new(RegistrarULRemove) },
	CommandRegistrarULDump:     func() any { return new(RegistrarULDump) },
	CommandRegistrarUserSet:    func() any { return new(RegistrarUserSet) },

	TypeNotifyFailed:      func() any { return new(NotifyFailed) },
	CommandNotifierFailed: func() any { return new(NotifierFailed) },
	CommandNotifierRetry:  func() any { return new(NotifierRetry) },
	CommandNotifierReplay: func() any { return new(NotifierReplay) },
}
