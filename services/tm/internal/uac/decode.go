package uac

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

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
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	req := new(tmapi.UAC)
	if err := dec.Decode(req); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return nil, bad(te.Field, "want a JSON %s, got %s", te.Type.Kind(), te.Value)
		case errors.As(err, &se):
			return nil, bad("", "not a sipbus.tm.uac.v1 JSON object: %v", err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return nil, bad(f, "unknown field")
		default:
			return nil, bad("", "not a sipbus.tm.uac.v1 JSON object: %v", err)
		}
	}
	if dec.More() {
		return nil, bad("", "trailing data after the JSON object")
	}
	if e := Validate(req); e != nil {
		return nil, e
	}
	return req, nil
}
