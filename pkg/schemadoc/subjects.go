package schemadoc

import (
	"strings"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/notifyapi"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/tmapi"
)

// Kind is what a schema describes.
type Kind string

// Kinds.
const (
	KindEvent   Kind = "event"         // a CloudEvent on the JetStream stream
	KindCommand Kind = "command"       // NATS request/reply
	KindRetired Kind = "retired event" // no service emits it; old logs stay readable
)

// Route is how one schema's messages travel.
type Route struct {
	Kind       Kind
	Subjects   []string // with placeholders
	QueueGroup string   // commands: the responders' queue group
	Producer   string   // who publishes (events) or answers (commands)
}

// placeholder values: made by the real builders, then replaced.
const (
	ck     = "fedcba9876543210" // a callkey; its partition is "fe"
	aorKey = ck                 // an aorkey: built like a callkey, only its partition shows
)

// fill turns a subject made with the placeholder values into its pattern,
// token by token.
func fill(s string) string {
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case i > 0 && t == bus.Partition(ck): // sip.<p>..., call.<event>.<p>, app.<NAME>.<p>, reg.contact.<event>.<p>
			toks[i] = "<p>"
		case holes[t] != "":
			toks[i] = holes[t]
		}
	}
	return strings.Join(toks, ".")
}

var holes = map[string]string{ck: "<callkey>", "METHOD": "<METHOD>", "1xx": "<N>xx",
	"EDGE": "<edge>", "ID": "<id>", "NAME": "<NAME>", "OWNER": "<owner>", "DIALOG": "<dialog_id>", "PHASE": "<phase>"}

func subjects(ss ...string) []string {
	for i := range ss {
		ss[i] = fill(ss[i])
	}
	return ss
}

// Routes maps every event type and command name with a subject in the Go
// code to how it travels.
func Routes() map[string]Route {
	ev := func(producer string, ss ...string) Route {
		return Route{Kind: KindEvent, Subjects: subjects(ss...), Producer: producer}
	}
	old := func(ss ...string) Route { return Route{Kind: KindRetired, Subjects: subjects(ss...)} }
	cmd := func(producer, queue string, ss ...string) Route {
		return Route{Kind: KindCommand, Subjects: ss, QueueGroup: queue, Producer: producer}
	}
	reg := func(s string) Route { return cmd("registrar", regapi.QueueGroup, s) }
	return map[string]Route{
		events.TypeRequestReceived: ev("edge; tm republishes a request it hands to an application",
			bus.SubjectRequestIn("METHOD", ck), bus.SubjectApp("NAME", ck)),
		events.TypeResponseReceived: ev("edge", bus.SubjectResponseIn(180, ck)),
		events.TypeMessageSent: ev("tm, registrar (edges transmit it)",
			bus.SubjectRequestOut("EDGE", "METHOD", ck), bus.SubjectResponseOut("EDGE", 180, ck)),
		events.TypeMessageRejected: ev("edge", bus.SubjectRejected(ck)),

		// The first design's subjects had no partition and no edge.
		events.TypeRequestReceivedV1:  old("sip.in.req.<METHOD>.<callkey>"),
		events.TypeResponseReceivedV1: old("sip.in.res.<N>xx.<callkey>"),
		events.TypeMessageSentV1:      old("sip.out.req.<METHOD>.<callkey>", "sip.out.res.<N>xx.<callkey>"),
		events.TypeMessageRejectedV1:  old("sip.in.bad.<callkey>"),
		events.TypeTxCreated:          old(bus.SubjectTx(bus.TxEventCreated, ck)),
		events.TypeTxAbsorbed:         old(bus.SubjectTx(bus.TxEventAbsorbed, ck)),

		events.TypeCallStarted:  ev("tm", bus.SubjectCall(bus.CallEventStarted, ck)),
		events.TypeCallRinging:  ev("tm", bus.SubjectCall(bus.CallEventRinging, ck)),
		events.TypeCallAnswered: ev("tm", bus.SubjectCall(bus.CallEventAnswered, ck)),
		events.TypeCallEnded:    ev("tm", bus.SubjectCall(bus.CallEventEnded, ck)),
		events.TypeCallMissed:   ev("tm", bus.SubjectCall(bus.CallEventMissed, ck)),

		events.TypeRegContactAdded:     ev("registrar", bus.SubjectReg(bus.RegEventAdded, aorKey)),
		events.TypeRegContactRefreshed: ev("registrar", bus.SubjectReg(bus.RegEventRefreshed, aorKey)),
		events.TypeRegContactRemoved:   ev("registrar", bus.SubjectReg(bus.RegEventRemoved, aorKey)),
		events.TypeRegContactExpired:   ev("registrar", bus.SubjectReg(bus.RegEventExpired, aorKey)),

		events.TypeEdgeBlocked:  ev("edge", bus.SubjectEdge(bus.EdgeEventBlocked, "EDGE")),
		events.TypeNotifyFailed: ev("notifier", bus.SubjectNotify(bus.NotifyEventFailed, "ID")),
		events.TypeCtdProgress:  ev("ctd", bus.SubjectCtd("PHASE", "ID")),

		events.CommandTM:    cmd("tm", events.TMQueue, events.TMCommandSubject),
		events.CommandTMUAC: cmd("tm", tmapi.QueueGroup, tmapi.SubjectUAC, tmapi.SubjectUACCancel+" (cancel)", fill(tmapi.DialogSubject("OWNER", "DIALOG"))+" (in-dialog requests, on the stream)"),

		events.CommandRegistrarUserAdd:    reg(regapi.SubjectUserAdd),
		events.CommandRegistrarUserList:   reg(regapi.SubjectUserList),
		events.CommandRegistrarUserRemove: reg(regapi.SubjectUserRemove),
		events.CommandRegistrarUserPasswd: reg(regapi.SubjectUserPasswd),
		events.CommandRegistrarUserSet:    reg(regapi.SubjectUserSet),
		events.CommandRegistrarULShow:     reg(regapi.SubjectULShow),
		events.CommandRegistrarULAdd:      reg(regapi.SubjectULAdd),
		events.CommandRegistrarULRemove:   reg(regapi.SubjectULRemove),
		events.CommandRegistrarULDump:     reg(regapi.SubjectULDump),

		events.CommandNotifierFailed: cmd("notifier", notifyapi.QueueGroup, notifyapi.SubjectFailed),
		events.CommandNotifierRetry:  cmd("notifier", notifyapi.QueueGroup, notifyapi.SubjectRetry),
		events.CommandNotifierReplay: cmd("notifier; every application (sipbus.app.<NAME>.replay)", notifyapi.QueueGroup, notifyapi.SubjectReplay),
	}
}
