package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxCommandBytes bounds the JSON of a command request: NATS's default
// maximum payload (a replay request carries a call's events).
const MaxCommandBytes = 1 << 20

// FieldError is a command request that could not be decoded: Field names
// the JSON field at fault ("" when the request is not a JSON object at
// all), Msg says what is wrong. Every command endpoint answers it as
// status 400 with the field in its reply's "field".
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// DecodeCommand reads the request of command (its schema name, for the
// message) into v strictly: an unknown field, a value of the wrong type,
// trailing data and a request over MaxCommandBytes are errors naming the
// field where there is one. An empty request is an empty object.
func DecodeCommand(command string, b []byte, v any) *FieldError {
	if len(b) > MaxCommandBytes {
		return &FieldError{Msg: fmt.Sprintf("request of %d bytes: at most %d", len(b), MaxCommandBytes)}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return &FieldError{Field: te.Field, Msg: fmt.Sprintf("want a JSON %s, got %s", jsonKind(te), te.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &FieldError{Field: f, Msg: "unknown field of " + command}
		default:
			return &FieldError{Msg: "not a " + command + " JSON object: " + strings.TrimPrefix(err.Error(), "json: ")}
		}
	}
	if dec.More() {
		return &FieldError{Msg: "trailing data after the " + command + " JSON object"}
	}
	return nil
}

func jsonKind(te *json.UnmarshalTypeError) string {
	switch k := te.Type.Kind().String(); {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "slice", k == "array":
		return "array"
	case k == "map", k == "struct", k == "ptr":
		return "object"
	default:
		return k
	}
}
