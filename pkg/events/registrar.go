package events

import (
	"fmt"
	"log/slog"

	"github.com/sipbus/sipbus/pkg/bus"
)

// Registrar management commands (NATS request/reply on sipbus.registrar.*,
// queue group sipbus-registrar; not stream events): the heirs of the SER
// FIFO commands ul_show, ul_add, ul_rm, ul_dump and serctl add/passwd/rm.
// Each schema file holds the request at the top level and the reply under
// #/$defs/response. The request types are below; package regapi (the
// client) aliases them and defines the replies.
const (
	CommandRegistrarUserAdd    = "sipbus.registrar.user.add.v1"
	CommandRegistrarUserList   = "sipbus.registrar.user.list.v1"
	CommandRegistrarUserRemove = "sipbus.registrar.user.rm.v1"
	CommandRegistrarUserPasswd = "sipbus.registrar.user.passwd.v1"
	CommandRegistrarULShow     = "sipbus.registrar.ul.show.v1"
	CommandRegistrarULAdd      = "sipbus.registrar.ul.add.v1"
	CommandRegistrarULRemove   = "sipbus.registrar.ul.rm.v1"
	CommandRegistrarULDump     = "sipbus.registrar.ul.dump.v1"
	CommandRegistrarUserSet    = "sipbus.registrar.user.set.v1"
)

// redacted replaces a password in String, GoString and LogValue.
const redacted = "[redacted]"

// RegistrarUserAdd is the request of CommandRegistrarUserAdd: create a
// subscriber. Password is never printed: String, GoString and LogValue
// leave it out.
type RegistrarUserAdd struct {
	AOR      string `json:"aor"`
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	// MissedCallEmail false opts out of missed-call mail; nil means on
	// (when Email is set).
	MissedCallEmail *bool `json:"missed_call_email,omitempty"`
	// TZ is the IANA time zone of the subscriber's notifications
	// ("Europe/Paris"); "" is UTC.
	TZ string `json:"tz,omitempty"`
	// Admin makes the subscriber an admin of the web page.
	Admin bool `json:"admin,omitempty"`
}

// RegistrarUserSet is the request of CommandRegistrarUserSet: change a
// subscriber's profile. A nil field stays as it is; an empty Email or TZ
// clears it.
type RegistrarUserSet struct {
	AOR             string  `json:"aor"`
	Email           *string `json:"email,omitempty"`
	Name            *string `json:"name,omitempty"`
	MissedCallEmail *bool   `json:"missed_call_email,omitempty"`
	TZ              *string `json:"tz,omitempty"`
	Admin           *bool   `json:"admin,omitempty"`
}

// RegistrarUserPasswd is the request of CommandRegistrarUserPasswd: set a
// subscriber's password. Password is never printed.
type RegistrarUserPasswd struct {
	AOR      string `json:"aor"`
	Password string `json:"password"`
}

// RegistrarUserRemove is the request of CommandRegistrarUserRemove.
type RegistrarUserRemove struct {
	AOR string `json:"aor"`
}

// RegistrarUserList is the request of CommandRegistrarUserList: one page of
// subscribers after Cursor (an AOR; "" starts at the beginning).
type RegistrarUserList struct {
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// RegistrarULShow is the request of CommandRegistrarULShow: the bindings of
// one AOR.
type RegistrarULShow struct {
	AOR string `json:"aor"`
}

// RegistrarULAdd is the request of CommandRegistrarULAdd: bind a contact to
// an AOR administratively. Expires 0 makes the binding permanent (a PSTN
// gateway); Q nil means 1.0.
type RegistrarULAdd struct {
	AOR     string   `json:"aor"`
	Contact string   `json:"contact"`
	Expires int      `json:"expires"`
	Q       *float64 `json:"q,omitempty"`
}

// RegistrarULRemove is the request of CommandRegistrarULRemove: remove one
// binding of an AOR, or all of them when Contact is "".
type RegistrarULRemove struct {
	AOR     string `json:"aor"`
	Contact string `json:"contact,omitempty"`
}

// RegistrarULDump is the request of CommandRegistrarULDump: one page of
// AORs with their bindings after Cursor (an AOR; "" starts at the
// beginning).
type RegistrarULDump struct {
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// String describes r without its password.
func (r RegistrarUserAdd) String() string {
	return fmt.Sprintf("{AOR:%q Password:%s Email:%q Name:%q TZ:%q}", r.AOR, redacted, r.Email, r.Name, r.TZ)
}

// GoString is String, so %#v does not print the password either.
func (r RegistrarUserAdd) GoString() string { return "events.RegistrarUserAdd" + r.String() }

// LogValue keeps the password out of slog output.
func (r RegistrarUserAdd) LogValue() slog.Value {
	return slog.GroupValue(slog.String("aor", r.AOR), slog.String("password", redacted),
		slog.String("email", r.Email), slog.String("name", r.Name), slog.String("tz", r.TZ))
}

// String describes r without its password.
func (r RegistrarUserPasswd) String() string {
	return fmt.Sprintf("{AOR:%q Password:%s}", r.AOR, redacted)
}

// GoString is String, so %#v does not print the password either.
func (r RegistrarUserPasswd) GoString() string { return "events.RegistrarUserPasswd" + r.String() }

// LogValue keeps the password out of slog output.
func (r RegistrarUserPasswd) LogValue() slog.Value {
	return slog.GroupValue(slog.String("aor", r.AOR), slog.String("password", redacted))
}

func (*RegistrarUserAdd) CEType() string      { return CommandRegistrarUserAdd }
func (*RegistrarUserAdd) CESchema() string    { return SchemaURL(CommandRegistrarUserAdd) }
func (*RegistrarUserPasswd) CEType() string   { return CommandRegistrarUserPasswd }
func (*RegistrarUserPasswd) CESchema() string { return SchemaURL(CommandRegistrarUserPasswd) }
func (*RegistrarUserRemove) CEType() string   { return CommandRegistrarUserRemove }
func (*RegistrarUserRemove) CESchema() string { return SchemaURL(CommandRegistrarUserRemove) }
func (*RegistrarUserList) CEType() string     { return CommandRegistrarUserList }
func (*RegistrarUserList) CESchema() string   { return SchemaURL(CommandRegistrarUserList) }
func (*RegistrarULShow) CEType() string       { return CommandRegistrarULShow }
func (*RegistrarULShow) CESchema() string     { return SchemaURL(CommandRegistrarULShow) }
func (*RegistrarULAdd) CEType() string        { return CommandRegistrarULAdd }
func (*RegistrarULAdd) CESchema() string      { return SchemaURL(CommandRegistrarULAdd) }
func (*RegistrarULRemove) CEType() string     { return CommandRegistrarULRemove }
func (*RegistrarULRemove) CESchema() string   { return SchemaURL(CommandRegistrarULRemove) }
func (*RegistrarULDump) CEType() string       { return CommandRegistrarULDump }
func (*RegistrarULDump) CESchema() string     { return SchemaURL(CommandRegistrarULDump) }
func (*RegistrarUserSet) CEType() string      { return CommandRegistrarUserSet }
func (*RegistrarUserSet) CESchema() string    { return SchemaURL(CommandRegistrarUserSet) }

var (
	_ bus.Typed = (*RegistrarUserAdd)(nil)
	_ bus.Typed = (*RegistrarUserPasswd)(nil)
	_ bus.Typed = (*RegistrarUserRemove)(nil)
	_ bus.Typed = (*RegistrarUserList)(nil)
	_ bus.Typed = (*RegistrarULShow)(nil)
	_ bus.Typed = (*RegistrarULAdd)(nil)
	_ bus.Typed = (*RegistrarULRemove)(nil)
	_ bus.Typed = (*RegistrarULDump)(nil)
	_ bus.Typed = (*RegistrarUserSet)(nil)
)
