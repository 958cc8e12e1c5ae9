package uac

import (
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/tmapi"
)

// MaxCommand bounds a uac command's JSON.
const MaxCommand = 128 << 10

// Decode reads a uac command strictly (an unknown field is an error) and
// validates it; the error names the field at fault.
func Decode(b []byte) (*tmapi.UAC, *FieldError) {
	if len(b) > MaxCommand {
		return nil, bad("", "command of %d bytes: at most %d", len(b), MaxCommand)
	}
	req := new(tmapi.UAC)
	if fe := events.DecodeCommand(events.CommandTMUAC, b, req); fe != nil {
		return nil, bad(fe.Field, "%s", fe.Msg)
	}
	if e := Validate(req); e != nil {
		return nil, e
	}
	return req, nil
}
